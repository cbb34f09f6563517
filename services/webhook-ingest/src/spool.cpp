#include "spool.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

#include "outcall/common/strings.h"

namespace outcall::webhook_ingest {
namespace {

constexpr std::string_view kMagic = "outcall-spool 1\n";
constexpr std::string_view kSuffix = ".event";
constexpr std::string_view kTempPrefix = ".tmp-";

bool WriteAll(int fd, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

bool SyncDir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return false;
  const bool ok = ::fsync(fd) == 0;
  ::close(fd);
  return ok;
}

// The spooled events in `dir`, oldest first (by sequence number).
std::vector<uint64_t> ListEvents(const std::string& dir, std::vector<std::string>* temporary) {
  std::vector<uint64_t> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (const dirent* e = ::readdir(d)) {
    const std::string_view name(e->d_name);
    if (name.starts_with(kTempPrefix)) {
      if (temporary != nullptr) temporary->emplace_back(name);
      continue;
    }
    if (!name.ends_with(kSuffix)) continue;
    const std::string digits(name.substr(0, name.size() - kSuffix.size()));
    char* end = nullptr;
    const uint64_t seq = std::strtoull(digits.c_str(), &end, 10);
    if (!digits.empty() && end != nullptr && *end == '\0') out.push_back(seq);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

std::string Spool::PathOf(uint64_t seq, bool temporary) const {
  char name[32];
  std::snprintf(name, sizeof name, "%020llu", static_cast<unsigned long long>(seq));
  return temporary ? common::Cat(dir_, "/", kTempPrefix, name) : common::Cat(dir_, "/", name, kSuffix);
}

absl::StatusOr<std::unique_ptr<Spool>> Spool::Open(const std::string& dir, int64_t max_bytes) {
  if (dir.empty()) return absl::InvalidArgumentError("spool directory is empty");
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        common::Cat("spool directory ", dir, " cannot be created: ", ec.message()));
  }
  if (::access(dir.c_str(), W_OK | X_OK) != 0) {
    return absl::FailedPreconditionError(common::Cat("spool directory ", dir, " is not writable"));
  }
  std::unique_ptr<Spool> s(new Spool(dir, max_bytes));
  std::vector<std::string> temporary;
  for (uint64_t seq : ListEvents(dir, &temporary)) {
    struct stat st {};
    if (::stat(s->PathOf(seq, false).c_str(), &st) == 0) {
      s->bytes_ += st.st_size;
      ++s->count_;
    }
    s->next_seq_ = std::max(s->next_seq_, seq + 1);
  }
  // Writes that never finished: never acknowledged, so never counted on.
  for (const auto& name : temporary) ::unlink(common::Cat(dir, "/", name).c_str());
  return s;
}

absl::Status Spool::Append(const InboxRecord& r) {
  boost::json::object header{{"type", r.event_type},
                             {"conversation_id", r.conversation_id},
                             {"body_truncated", r.body_truncated},
                             {"body_sha256", r.body_sha256},
                             {"body_bytes", static_cast<int64_t>(r.body.size())}};
  header["event_timestamp"] =
      r.event_timestamp ? boost::json::value(*r.event_timestamp) : boost::json::value(nullptr);
  int64_t audio_bytes = 0;
  if (r.audio) {
    std::fflush(r.audio.get());
    struct stat st {};
    if (::fstat(::fileno(r.audio.get()), &st) != 0) return absl::DataLossError("audio unreadable");
    audio_bytes = st.st_size;
  }
  header["audio_bytes"] = audio_bytes;
  const std::string head = common::Cat(kMagic, boost::json::serialize(header), "\n");
  const int64_t size = static_cast<int64_t>(head.size() + r.body.size()) + audio_bytes;

  std::lock_guard lock(mu_);
  if (bytes_ + size > max_bytes_) return absl::ResourceExhaustedError("spool full");
  const uint64_t seq = next_seq_++;
  const std::string tmp = PathOf(seq, true);
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return absl::DataLossError("spool file cannot be created");
  bool ok = WriteAll(fd, head.data(), head.size()) && WriteAll(fd, r.body.data(), r.body.size());
  if (ok && r.audio) {
    std::FILE* f = r.audio.get();
    std::rewind(f);
    std::vector<char> buf(1 << 20);
    size_t n = 0;
    while (ok && (n = std::fread(buf.data(), 1, buf.size(), f)) > 0) ok = WriteAll(fd, buf.data(), n);
    ok = ok && !std::ferror(f);
  }
  ok = ok && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  ok = ok && ::rename(tmp.c_str(), PathOf(seq, false).c_str()) == 0 && SyncDir(dir_);
  if (!ok) {
    ::unlink(tmp.c_str());
    return absl::DataLossError("spool write failed");
  }
  bytes_ += size;
  ++count_;
  return absl::OkStatus();
}

int Spool::Drain(const std::function<absl::Status(InboxRecord&)>& store) {
  std::lock_guard lock(mu_);
  int taken = 0;
  for (uint64_t seq : ListEvents(dir_, nullptr)) {
    const std::string path = PathOf(seq, false);
    std::FILE* f = std::fopen(path.c_str(), "rb");
    if (f == nullptr) break;
    TempFile file(f);
    InboxRecord r;
    char line[4096];
    std::string magic = std::fgets(line, sizeof line, f) ? line : "";
    std::string head = std::fgets(line, sizeof line, f) ? line : "";
    boost::system::error_code ec;
    const boost::json::value v = boost::json::parse(head, ec);
    if (magic != kMagic || ec || !v.is_object()) {
      // Not something this process wrote: kept aside for an operator, not drained.
      const std::string bad = path + ".unreadable";
      ::rename(path.c_str(), bad.c_str());
      continue;
    }
    const boost::json::object& h = v.as_object();
    r.event_type = std::string(h.at("type").as_string());
    r.conversation_id = std::string(h.at("conversation_id").as_string());
    if (h.at("event_timestamp").is_int64()) r.event_timestamp = h.at("event_timestamp").as_int64();
    r.body_truncated = h.at("body_truncated").as_bool();
    r.body_sha256 = std::string(h.at("body_sha256").as_string());
    r.body.resize(static_cast<size_t>(h.at("body_bytes").as_int64()));
    bool ok = std::fread(r.body.data(), 1, r.body.size(), f) == r.body.size();
    const int64_t audio_bytes = h.at("audio_bytes").as_int64();
    if (ok && audio_bytes > 0) {
      r.audio.reset(std::tmpfile());
      std::vector<char> buf(1 << 20);
      int64_t left = audio_bytes;
      while (ok && r.audio && left > 0) {
        const size_t want = static_cast<size_t>(std::min<int64_t>(left, buf.size()));
        ok = std::fread(buf.data(), 1, want, f) == want &&
             std::fwrite(buf.data(), 1, want, r.audio.get()) == want;
        left -= static_cast<int64_t>(want);
      }
      ok = ok && r.audio && std::fflush(r.audio.get()) == 0;
    }
    if (!ok) break;  // a short read: tried again next time
    struct stat st {};
    const int64_t size = ::stat(path.c_str(), &st) == 0 ? st.st_size : 0;
    const absl::Status taken_status = store(r);
    if (taken_status.code() == absl::StatusCode::kInvalidArgument) {
      // The database refuses this event as it is (never the case for what ingest verified and
      // spooled, but it must not hold every later one back): kept aside for an operator.
      ::rename(path.c_str(), (path + ".refused").c_str());
      bytes_ -= size;
      --count_;
      continue;
    }
    if (!taken_status.ok()) break;
    ::unlink(path.c_str());
    bytes_ -= size;
    --count_;
    ++taken;
  }
  if (taken > 0) SyncDir(dir_);
  return taken;
}

bool Spool::empty() const {
  std::lock_guard lock(mu_);
  return count_ == 0;
}

int64_t Spool::bytes() const {
  std::lock_guard lock(mu_);
  return bytes_;
}

int64_t Spool::count() const {
  std::lock_guard lock(mu_);
  return count_;
}

}  // namespace outcall::webhook_ingest

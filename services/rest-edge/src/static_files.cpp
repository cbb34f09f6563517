#include "static_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace outcall::rest_edge {

namespace fs = std::filesystem;

std::string_view ContentTypeFor(std::string_view path) {
  auto ends = [&](std::string_view ext) { return path.ends_with(ext); };
  if (ends(".html")) return "text/html; charset=utf-8";
  if (ends(".js") || ends(".mjs")) return "text/javascript; charset=utf-8";
  if (ends(".css")) return "text/css; charset=utf-8";
  if (ends(".json") || ends(".map")) return "application/json";
  if (ends(".svg")) return "image/svg+xml";
  if (ends(".png")) return "image/png";
  if (ends(".ico")) return "image/x-icon";
  if (ends(".webmanifest")) return "application/manifest+json";
  if (ends(".woff2")) return "font/woff2";
  if (ends(".txt")) return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

namespace {
std::string ReadAll(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}
}  // namespace

absl::StatusOr<StaticFiles> StaticFiles::Load(const std::string& dir) {
  std::error_code ec;
  const fs::path root = fs::canonical(dir, ec);
  if (ec) return absl::NotFoundError(absl::StrCat("EDGE_CONSOLE_DIR: cannot open ", dir));
  StaticFiles out;
  for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file() || it->is_symlink()) continue;
    const fs::path& p = it->path();
    std::string rel = "/" + fs::relative(p, root).generic_string();
    if (rel.ends_with(".gz")) continue;  // attached to its original below
    StaticFile f;
    f.content_type = std::string(ContentTypeFor(rel));
    f.cache_control = rel.starts_with("/assets/") ? "public, max-age=31536000, immutable" : "no-cache";
    f.body = ReadAll(p);
    fs::path gz = p;
    gz += ".gz";
    if (fs::is_regular_file(gz, ec)) f.gzip_body = ReadAll(gz);
    out.files_.emplace(std::move(rel), std::move(f));
  }
  if (ec) return absl::UnavailableError(absl::StrCat("EDGE_CONSOLE_DIR: cannot read ", dir, ": ", ec.message()));
  if (out.files_.find("/index.html") == out.files_.end()) {
    return absl::NotFoundError(absl::StrCat("EDGE_CONSOLE_DIR: no index.html in ", dir));
  }
  return out;
}

const StaticFile* StaticFiles::Find(std::string_view path) const {
  if (path == "/" || path.empty()) path = "/index.html";
  auto it = files_.find(path);
  return it == files_.end() ? nullptr : &it->second;
}

}  // namespace outcall::rest_edge

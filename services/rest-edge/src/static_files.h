// The console's built files (EDGE_CONSOLE_DIR), read once at start and served from memory:
// "/" is index.html; hashed assets under /assets/ are cached for a year, everything else is
// revalidated; a precompressed .gz sibling is served to clients that accept gzip.
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace outcall::rest_edge {

struct StaticFile {
  std::string content_type;
  std::string cache_control;
  std::string body;
  std::string gzip_body;  // empty: no precompressed sibling
};

class StaticFiles {
 public:
  // Every regular file under `dir` (no symlinks out of it). NOT_FOUND without index.html.
  static absl::StatusOr<StaticFiles> Load(const std::string& dir);
  // The file for a normalised request path, or null.
  const StaticFile* Find(std::string_view path) const;
  size_t size() const { return files_.size(); }

 private:
  std::map<std::string, StaticFile, std::less<>> files_;  // "/index.html", "/assets/x.js"
};

std::string_view ContentTypeFor(std::string_view path);

}  // namespace outcall::rest_edge

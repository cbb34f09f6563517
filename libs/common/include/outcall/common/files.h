// Reading small files whole (secrets, keys, migrations, test fixtures).
#pragma once

#include <optional>
#include <string>

namespace outcall::common {

// The file's bytes, or nullopt when it cannot be opened or read.
std::optional<std::string> ReadWholeFile(const std::string& path);

}  // namespace outcall::common

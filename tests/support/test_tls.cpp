#include "test_tls.h"

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <system_error>

namespace outcall::testing {

TlsFiles MakeSelfSignedCert() {
  char tmpl[] = "/tmp/outcall-tls-XXXXXX";
  const char* dir = mkdtemp(tmpl);
  TlsFiles f{dir ? dir : "", "", ""};
  if (f.dir.empty()) return f;
  f.cert = f.dir + "/cert.pem";
  f.key = f.dir + "/key.pem";
  const std::string cmd =
      "openssl req -x509 -newkey rsa:2048 -nodes -keyout " + f.key + " -out " + f.cert +
      " -days 1 -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1,DNS:localhost "
      ">/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) f.cert.clear();
  return f;
}

void RemoveTlsFiles(const TlsFiles& files) {
  if (files.dir.empty()) return;
  std::error_code ec;
  std::filesystem::remove_all(files.dir, ec);
}

}  // namespace outcall::testing

// A throwaway TLS identity for tests: a fresh RSA key and a self-signed certificate for
// 127.0.0.1 / localhost, made at test time with the openssl CLI (scripts/install-deps.sh installs
// it). No key is ever stored in the repository.
#pragma once

#include <string>

namespace outcall::testing {

struct TlsFiles {
  std::string dir;   // temporary directory holding both files
  std::string cert;  // PEM certificate; empty when openssl failed
  std::string key;   // PEM private key
};

TlsFiles MakeSelfSignedCert();
// Removes the directory MakeSelfSignedCert created.
void RemoveTlsFiles(const TlsFiles& files);

}  // namespace outcall::testing

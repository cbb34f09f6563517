// Unit tests for outcall/common/config.h: EnvReader with an injected environment,
// ReadCommonConfig and ReadElevenLabsConfig.
#include "outcall/common/config.h"
#include "outcall/elevenlabs/config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "outcall/common/crypto.h"

namespace outcall::common {
namespace {

using ::testing::AllOf;
using elevenlabs::ElevenLabsConfig;
using elevenlabs::ReadElevenLabsConfig;
using ::testing::HasSubstr;
using ::testing::Not;

using Env = std::map<std::string, std::string>;

EnvLookup LookupFrom(const Env& env) {
  return [env](std::string_view name) -> std::optional<std::string> {
    auto it = env.find(std::string(name));
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

std::string Message(const EnvReader& env) { return std::string(env.Finish().message()); }

// A temporary directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "outcall_config_XXXXXX").string();
    char* made = ::mkdtemp(tmpl.data());
    if (made == nullptr) std::abort();
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  std::string Write(const std::string& name, const std::string& contents) const {
    const std::filesystem::path p = path_ / name;
    std::ofstream out(p, std::ios::binary);
    out << contents;
    return p.string();
  }
  std::string PathOf(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// A freshly generated RSA public key in PEM form.
std::string NewRsaPublicKeyPem() {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key(
      EVP_PKEY_Q_keygen(nullptr, nullptr, "RSA", size_t{2048}), &EVP_PKEY_free);
  if (!key) std::abort();
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
  PEM_write_bio_PUBKEY(bio.get(), key.get());
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<size_t>(len));
}

// ---------------------------------------------------------------------------------------------
// EnvReader

TEST(EnvReaderTest, StringDefaultAndEmptyMeansUnset) {
  EnvReader env(LookupFrom({{"A", "value"}, {"EMPTY", ""}}));
  EXPECT_EQ(env.String("A", "d"), "value");
  EXPECT_EQ(env.String("MISSING", "d"), "d");
  EXPECT_EQ(env.String("EMPTY", "d"), "d");
  EXPECT_TRUE(env.Finish().ok());
}

TEST(EnvReaderTest, MissingRequiredVariablesAreNamed) {
  EnvReader env(LookupFrom({{"EMPTY_ONE", ""}}));
  EXPECT_EQ(env.RequiredString("FIRST_REQUIRED"), "");
  EXPECT_EQ(env.RequiredString("EMPTY_ONE"), "");
  const absl::Status s = env.Finish();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), AllOf(HasSubstr("FIRST_REQUIRED: is required but not set"),
                                              HasSubstr("EMPTY_ONE: is required but not set")));
}

TEST(EnvReaderTest, IntParsesAndChecksRange) {
  EnvReader env(LookupFrom(
      {{"GOOD", "42"}, {"NEG", "-3"}, {"WORD", "many"}, {"BIG", "1000"}, {"FLOAT", "1.5"}}));
  EXPECT_EQ(env.Int("GOOD", 7, 0, 100), 42);
  EXPECT_EQ(env.Int("NEG", 7, -10, 10), -3);
  EXPECT_EQ(env.Int("UNSET", 7, 0, 100), 7);
  EXPECT_TRUE(env.Finish().ok());
  EXPECT_EQ(env.Int("WORD", 7, 0, 100), 7);
  EXPECT_EQ(env.Int("BIG", 7, 0, 100), 7);
  EXPECT_EQ(env.Int("FLOAT", 7, 0, 100), 7);
  const std::string m = Message(env);
  EXPECT_THAT(m, HasSubstr("WORD: must be an integer from 0 to 100, got 'many'"));
  EXPECT_THAT(m, HasSubstr("BIG: must be an integer from 0 to 100, got '1000'"));
  EXPECT_THAT(m, HasSubstr("FLOAT: must be an integer"));
}

TEST(EnvReaderTest, Bool) {
  EnvReader env(LookupFrom({{"T1", "true"},
                            {"T2", "YES"},
                            {"T3", " 1 "},
                            {"T4", "On"},
                            {"F1", "false"},
                            {"F2", "no"},
                            {"F3", "0"},
                            {"F4", "OFF"},
                            {"BAD", "maybe"}}));
  for (const char* name : {"T1", "T2", "T3", "T4"}) EXPECT_TRUE(env.Bool(name, false)) << name;
  for (const char* name : {"F1", "F2", "F3", "F4"}) EXPECT_FALSE(env.Bool(name, true)) << name;
  EXPECT_TRUE(env.Bool("UNSET", true));
  EXPECT_FALSE(env.Bool("UNSET", false));
  EXPECT_TRUE(env.Finish().ok());
  EXPECT_TRUE(env.Bool("BAD", true));
  EXPECT_THAT(Message(env), HasSubstr("BAD: must be true or false, got 'maybe'"));
}

TEST(EnvReaderTest, Seconds) {
  EnvReader env(LookupFrom({{"S", "90"}, {"TOO_BIG", "301"}}));
  EXPECT_EQ(env.Seconds("S", 10, 0, 300), absl::Seconds(90));
  EXPECT_EQ(env.Seconds("UNSET", 10, 0, 300), absl::Seconds(10));
  EXPECT_EQ(env.Seconds("TOO_BIG", 10, 0, 300), absl::Seconds(10));
  EXPECT_THAT(Message(env), HasSubstr("TOO_BIG"));
}

TEST(EnvReaderTest, UrlValidationAndTrailingSlash) {
  EnvReader env(LookupFrom({{"OK", "https://api.example.test/v1//"},
                            {"PLAIN", "http://127.0.0.1:1234/"},
                            {"NO_SCHEME", "api.example.test"},
                            {"FTP", "ftp://files.example.test"},
                            {"NO_HOST", "https:///path"},
                            {"ONLY_SCHEME", "https://"}}));
  EXPECT_EQ(env.Url("OK", "", false), "https://api.example.test/v1");
  EXPECT_EQ(env.Url("PLAIN", "", false), "http://127.0.0.1:1234");
  EXPECT_EQ(env.Url("UNSET_OPTIONAL", "https://default.test", false), "https://default.test");
  EXPECT_TRUE(env.Finish().ok()) << env.Finish();
  EXPECT_EQ(env.Url("NO_SCHEME", "https://d.test", false), "https://d.test");
  env.Url("FTP", "", false);
  env.Url("NO_HOST", "", false);
  env.Url("ONLY_SCHEME", "", false);
  env.Url("UNSET_REQUIRED", "", true);
  const std::string m = Message(env);
  EXPECT_THAT(m, HasSubstr("NO_SCHEME: must be an http:// or https:// URL"));
  EXPECT_THAT(m, HasSubstr("FTP: must be an http:// or https:// URL"));
  EXPECT_THAT(m, HasSubstr("NO_HOST: has no host"));
  EXPECT_THAT(m, HasSubstr("ONLY_SCHEME: has no host"));
  EXPECT_THAT(m, HasSubstr("UNSET_REQUIRED: is required but not set"));
}

TEST(EnvReaderTest, List) {
  EnvReader env(LookupFrom({{"L", " a, b ,,c ,"}, {"BLANK", " , "}}));
  EXPECT_EQ(env.List("L", ""), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_TRUE(env.List("BLANK", "").empty());
  EXPECT_EQ(env.List("UNSET", "x,y"), (std::vector<std::string>{"x", "y"}));
  EXPECT_TRUE(env.Finish().ok());
}

TEST(EnvReaderTest, OneOf) {
  EnvReader env(LookupFrom({{"GOOD", "debug"}, {"CASE", "DEBUG"}, {"BAD", "loud"}}));
  EXPECT_EQ(env.OneOf("GOOD", "info", {"debug", "info"}), "debug");
  EXPECT_EQ(env.OneOf("UNSET", "info", {"debug", "info"}), "info");
  EXPECT_TRUE(env.Finish().ok());
  EXPECT_EQ(env.OneOf("CASE", "info", {"debug", "info"}), "info");  // case-sensitive
  EXPECT_EQ(env.OneOf("BAD", "info", {"debug", "info"}), "info");
  const std::string m = Message(env);
  EXPECT_THAT(m, HasSubstr("CASE: must be one of debug, info, got 'DEBUG'"));
  EXPECT_THAT(m, HasSubstr("BAD: must be one of debug, info, got 'loud'"));
}

TEST(EnvReaderTest, SecretFromVariable) {
  const std::string canary = "canary-" + RandomHex(16);
  EnvReader env(LookupFrom({{"TOKEN", canary}}));
  const Secret s = env.SecretValue("TOKEN", true);
  EXPECT_EQ(s.Reveal(), canary);
  EXPECT_TRUE(env.Finish().ok());
}

TEST(EnvReaderTest, SecretFromFileStripsOneTrailingNewline) {
  TempDir dir;
  const std::string value = "file-secret-" + RandomHex(16);
  const std::string lf = dir.Write("lf", value + "\n");
  const std::string crlf = dir.Write("crlf", value + "\r\n");
  const std::string bare = dir.Write("bare", value);
  const std::string two = dir.Write("two", value + "\n\n");
  EnvReader env(LookupFrom({{"A_FILE", lf}, {"B_FILE", crlf}, {"C_FILE", bare}, {"D_FILE", two}}));
  EXPECT_EQ(env.SecretValue("A", true).Reveal(), value);
  EXPECT_EQ(env.SecretValue("B", true).Reveal(), value);
  EXPECT_EQ(env.SecretValue("C", true).Reveal(), value);
  EXPECT_EQ(env.SecretValue("D", true).Reveal(), value + "\n");  // only one newline removed
  EXPECT_TRUE(env.Finish().ok()) << env.Finish();
}

TEST(EnvReaderTest, SecretAndSecretFileBothSetIsAnError) {
  TempDir dir;
  const std::string canary = "canary-" + RandomHex(16);
  const std::string path = dir.Write("secret", canary);
  EnvReader env(LookupFrom({{"API_KEY", canary}, {"API_KEY_FILE", path}}));
  EXPECT_TRUE(env.SecretValue("API_KEY", true).empty());
  const std::string m = Message(env);
  EXPECT_THAT(m, HasSubstr("API_KEY: set either API_KEY or API_KEY_FILE, not both"));
  EXPECT_THAT(m, Not(HasSubstr(canary)));
}

TEST(EnvReaderTest, UnreadableOrEmptySecretFileIsNamed) {
  TempDir dir;
  const std::string missing = dir.PathOf("does-not-exist");
  const std::string empty = dir.Write("empty", "\n");
  EnvReader env(LookupFrom({{"KEY_FILE", missing}, {"OTHER_FILE", empty}}));
  EXPECT_TRUE(env.SecretValue("KEY", true).empty());
  EXPECT_TRUE(env.SecretValue("OTHER", true).empty());
  const std::string m = Message(env);
  EXPECT_THAT(m, HasSubstr("KEY_FILE: cannot read file " + missing));
  EXPECT_THAT(m, HasSubstr("OTHER_FILE: file " + empty + " is empty"));
}

TEST(EnvReaderTest, MissingRequiredSecretNamesBothVariables) {
  EnvReader env(LookupFrom({}));
  EXPECT_TRUE(env.SecretValue("OPTIONAL", false).empty());
  EXPECT_TRUE(env.Finish().ok());
  EXPECT_TRUE(env.SecretValue("NEEDED", true).empty());
  EXPECT_THAT(Message(env), HasSubstr("NEEDED: is required but neither it nor NEEDED_FILE is set"));
}

TEST(EnvReaderTest, AddErrorAndAllErrorsTogether) {
  EnvReader env(LookupFrom({{"N", "x"}, {"B", "y"}}));
  env.Int("N", 1, 0, 10);
  env.Bool("B", false);
  env.RequiredString("R");
  env.AddError("CROSS", "conflicts with N");
  const absl::Status s = env.Finish();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  const std::string m(s.message());
  EXPECT_THAT(m, HasSubstr("invalid configuration: "));
  EXPECT_THAT(m, AllOf(HasSubstr("N: must be an integer"), HasSubstr("B: must be true or false"),
                       HasSubstr("R: is required"), HasSubstr("CROSS: conflicts with N")));
  // In the order found, separated by "; ".
  EXPECT_LT(m.find("N: "), m.find("B: "));
  EXPECT_LT(m.find("B: "), m.find("R: "));
  EXPECT_LT(m.find("R: "), m.find("CROSS: "));
  EXPECT_THAT(m, HasSubstr("; "));
}

TEST(EnvReaderTest, ProcessEnvReadsTheEnvironment) {
  const std::string name = "OUTCALL_UNIT_TEST_VAR_" + RandomHex(4);
  ASSERT_EQ(::setenv(name.c_str(), "hello", 1), 0);
  const EnvLookup lookup = ProcessEnv();
  EXPECT_EQ(lookup(name), std::optional<std::string>("hello"));
  ::unsetenv(name.c_str());
  EXPECT_EQ(lookup(name), std::nullopt);
}

// ---------------------------------------------------------------------------------------------
// ReadCommonConfig

class CommonConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    hs_secret_ = RandomHex(32);  // 64 characters
    env_ = {{"DATABASE_URL", "postgresql://outcall@db:5432/outcall"},
            {"JWT_ISSUER", "https://auth.clinic.test"},
            {"JWT_AUDIENCE", "outcall"},
            {"JWT_HS256_SECRET", hs_secret_}};
  }

  CommonConfig Read(EnvReader& reader) {
    return ReadCommonConfig(reader, ServiceDefaults{"0.0.0.0:50051", "0.0.0.0:9090"});
  }

  std::string hs_secret_;
  Env env_;
};

TEST_F(CommonConfigTest, MinimalValidConfigAndDefaults) {
  EnvReader reader(LookupFrom(env_));
  const CommonConfig c = Read(reader);
  ASSERT_TRUE(reader.Finish().ok()) << reader.Finish();
  EXPECT_EQ(c.log_level, "info");
  EXPECT_EQ(c.log_format, "json");
  EXPECT_EQ(c.database_url.Reveal(), "postgresql://outcall@db:5432/outcall");
  EXPECT_EQ(c.database_pool_size, 8);
  EXPECT_EQ(c.grpc_listen_address, "0.0.0.0:50051");
  EXPECT_EQ(c.metrics_listen_address, "0.0.0.0:9090");
  EXPECT_EQ(c.shutdown_grace, absl::Seconds(10));
  EXPECT_EQ(c.default_country_code, "57");
  EXPECT_EQ(c.clinic_timezone, "America/Bogota");
  EXPECT_EQ(c.jwt_issuer, "https://auth.clinic.test");
  EXPECT_EQ(c.jwt_audiences, (std::vector<std::string>{"outcall"}));
  ASSERT_EQ(c.jwt_hs256_secrets.size(), 1u);
  EXPECT_EQ(c.jwt_hs256_secrets[0].Reveal(), hs_secret_);
  EXPECT_TRUE(c.jwt_rs256_public_keys_pem.empty());
  EXPECT_EQ(c.jwt_leeway, absl::Seconds(30));
}

TEST_F(CommonConfigTest, ExplicitValues) {
  env_["LOG_LEVEL"] = "debug";
  env_["LOG_FORMAT"] = "text";
  env_["DATABASE_POOL_SIZE"] = "16";
  env_["GRPC_LISTEN_ADDRESS"] = "[::]:6000";
  env_["METRICS_LISTEN_ADDRESS"] = "off";
  env_["SHUTDOWN_GRACE_SECS"] = "0";
  env_["DEFAULT_COUNTRY_CODE"] = "34";
  env_["CLINIC_TIMEZONE"] = "America/Bogota";
  env_["JWT_AUDIENCE"] = "outcall, outcall-admin";
  env_["JWT_HS256_SECRET_PREVIOUS"] = RandomHex(16);  // exactly 32 characters
  env_["JWT_LEEWAY_SECS"] = "5";
  EnvReader reader(LookupFrom(env_));
  const CommonConfig c = Read(reader);
  ASSERT_TRUE(reader.Finish().ok()) << reader.Finish();
  EXPECT_EQ(c.log_level, "debug");
  EXPECT_EQ(c.log_format, "text");
  EXPECT_EQ(c.database_pool_size, 16);
  EXPECT_EQ(c.grpc_listen_address, "[::]:6000");
  EXPECT_EQ(c.metrics_listen_address, "");
  EXPECT_EQ(c.shutdown_grace, absl::Seconds(0));
  EXPECT_EQ(c.default_country_code, "34");
  EXPECT_EQ(c.jwt_audiences, (std::vector<std::string>{"outcall", "outcall-admin"}));
  ASSERT_EQ(c.jwt_hs256_secrets.size(), 2u);
  EXPECT_EQ(c.jwt_hs256_secrets[1].Reveal(), env_["JWT_HS256_SECRET_PREVIOUS"]);
  EXPECT_EQ(c.jwt_leeway, absl::Seconds(5));
}

TEST_F(CommonConfigTest, MissingRequiredVariablesAreNamed) {
  EnvReader reader(LookupFrom({}));
  Read(reader);
  const std::string m = Message(reader);
  EXPECT_THAT(m,
              HasSubstr("DATABASE_URL: is required but neither it nor DATABASE_URL_FILE is set"));
  EXPECT_THAT(m, HasSubstr("JWT_ISSUER: is required but not set"));
  EXPECT_THAT(m, HasSubstr("JWT_AUDIENCE: is required but not set"));
  EXPECT_THAT(m, HasSubstr("JWT_HS256_SECRET: no JWT key configured"));
}

TEST_F(CommonConfigTest, InvalidValuesAreNamed) {
  env_["LOG_LEVEL"] = "chatty";
  env_["LOG_FORMAT"] = "xml";
  env_["DATABASE_POOL_SIZE"] = "0";
  env_["GRPC_LISTEN_ADDRESS"] = "localhost";
  env_["METRICS_LISTEN_ADDRESS"] = "9090";
  env_["SHUTDOWN_GRACE_SECS"] = "soon";
  env_["JWT_LEEWAY_SECS"] = "301";
  EnvReader reader(LookupFrom(env_));
  Read(reader);
  const std::string m = Message(reader);
  EXPECT_THAT(m, HasSubstr("LOG_LEVEL: must be one of trace, debug, info, warn, error, got "
                           "'chatty'"));
  EXPECT_THAT(m, HasSubstr("LOG_FORMAT: must be one of json, text, got 'xml'"));
  EXPECT_THAT(m, HasSubstr("DATABASE_POOL_SIZE: must be an integer from 1 to 200, got '0'"));
  EXPECT_THAT(m, HasSubstr("GRPC_LISTEN_ADDRESS: must be host:port, got 'localhost'"));
  EXPECT_THAT(m, HasSubstr("METRICS_LISTEN_ADDRESS: must be host:port or off"));
  EXPECT_THAT(m, HasSubstr("SHUTDOWN_GRACE_SECS: must be an integer"));
  EXPECT_THAT(m, HasSubstr("JWT_LEEWAY_SECS: must be an integer from 0 to 300, got '301'"));
}

TEST_F(CommonConfigTest, DatabaseUrlShapeCheckedWithoutShowingIt) {
  const std::string canary = "mysql://root:canary" + RandomHex(8) + "@db/outcall";
  env_["DATABASE_URL"] = canary;
  EnvReader reader(LookupFrom(env_));
  Read(reader);
  const std::string m = Message(reader);
  EXPECT_THAT(m, HasSubstr("DATABASE_URL: must be a postgresql:// URL"));
  EXPECT_THAT(m, Not(HasSubstr(canary)));
  EXPECT_THAT(m, Not(HasSubstr("canary")));

  // A libpq key=value string is accepted.
  env_["DATABASE_URL"] = "host=db dbname=outcall user=outcall";
  EnvReader ok_reader(LookupFrom(env_));
  EXPECT_EQ(Read(ok_reader).database_url.Reveal(), "host=db dbname=outcall user=outcall");
  EXPECT_TRUE(ok_reader.Finish().ok()) << ok_reader.Finish();
}

TEST_F(CommonConfigTest, DatabaseUrlFromFile) {
  TempDir dir;
  const std::string url = "postgresql://outcall:pw" + RandomHex(8) + "@db/outcall";
  env_.erase("DATABASE_URL");
  env_["DATABASE_URL_FILE"] = dir.Write("db_url", url + "\n");
  EnvReader reader(LookupFrom(env_));
  const CommonConfig c = Read(reader);
  ASSERT_TRUE(reader.Finish().ok()) << reader.Finish();
  EXPECT_EQ(c.database_url.Reveal(), url);
}

TEST_F(CommonConfigTest, ShortHsSecretRefusedWithoutShowingIt) {
  const std::string canary = "CANARY" + RandomHex(12);  // 30 bytes
  ASSERT_LT(canary.size(), 32u);
  env_["JWT_HS256_SECRET"] = canary;
  EnvReader reader(LookupFrom(env_));
  const CommonConfig c = Read(reader);
  EXPECT_TRUE(c.jwt_hs256_secrets.empty());
  const std::string m = Message(reader);
  EXPECT_THAT(m, HasSubstr("JWT_HS256_SECRET: must be at least 32 bytes long"));
  EXPECT_THAT(m, Not(HasSubstr(canary)));
  EXPECT_THAT(m, Not(HasSubstr("CANARY")));
}

TEST_F(CommonConfigTest, ShortPreviousHsSecretRefused) {
  env_["JWT_HS256_SECRET_PREVIOUS"] = RandomHex(15);  // 30 characters
  EnvReader reader(LookupFrom(env_));
  const CommonConfig c = Read(reader);
  EXPECT_EQ(c.jwt_hs256_secrets.size(), 1u);
  EXPECT_THAT(Message(reader), HasSubstr("JWT_HS256_SECRET_PREVIOUS: must be at least 32 bytes"));
}

TEST_F(CommonConfigTest, HsSecretAndFileBothSet) {
  TempDir dir;
  env_["JWT_HS256_SECRET_FILE"] = dir.Write("jwt", RandomHex(32));
  EnvReader reader(LookupFrom(env_));
  Read(reader);
  const std::string m = Message(reader);
  EXPECT_THAT(m, HasSubstr("set either JWT_HS256_SECRET or JWT_HS256_SECRET_FILE, not both"));
  EXPECT_THAT(m, Not(HasSubstr(hs_secret_)));
}

TEST_F(CommonConfigTest, NoSecretValueInAnyErrorMessage) {
  // Every secret set to a distinctive value in a configuration that is wrong in many ways.
  const std::string canary = "zzCANARYzz" + RandomHex(24);
  TempDir dir;
  const Env env = {{"DATABASE_URL", "mysql://" + canary},
                   {"JWT_HS256_SECRET", canary},
                   {"JWT_HS256_SECRET_FILE", dir.Write("a", canary)},
                   {"JWT_HS256_SECRET_PREVIOUS", canary.substr(0, 20)},
                   {"ELEVENLABS_API_KEY", canary},
                   {"ELEVENLABS_API_KEY_FILE", dir.Write("b", canary)},
                   {"ELEVENLABS_WEBHOOK_SECRET", canary},
                   {"ELEVENLABS_WEBHOOK_SECRET_FILE", dir.Write("c", canary)},
                   {"TWILIO_AUTH_TOKEN", canary},
                   {"LOG_LEVEL", "nope"}};
  EnvReader reader(LookupFrom(env));
  Read(reader);
  ReadElevenLabsConfig(reader);
  const absl::Status s = reader.Finish();
  ASSERT_FALSE(s.ok());
  const std::string m(s.message());
  EXPECT_THAT(m, Not(HasSubstr("CANARY")));
  EXPECT_THAT(m, Not(HasSubstr(canary.substr(0, 20))));
  // ... while still naming the variables.
  EXPECT_THAT(m, HasSubstr("DATABASE_URL"));
  EXPECT_THAT(m, HasSubstr("JWT_HS256_SECRET_PREVIOUS"));
  EXPECT_THAT(m, HasSubstr("ELEVENLABS_API_KEY"));
  EXPECT_THAT(m, HasSubstr("ELEVENLABS_WEBHOOK_SECRET"));
  EXPECT_THAT(m, HasSubstr("TWILIO_ACCOUNT_SID"));
}

TEST_F(CommonConfigTest, DefaultCountryCodeMustBeDigits) {
  for (const char* bad : {"+57", "057", "1234", "5a"}) {
    SCOPED_TRACE(bad);
    env_["DEFAULT_COUNTRY_CODE"] = bad;
    EnvReader reader(LookupFrom(env_));
    Read(reader);
    EXPECT_THAT(Message(reader),
                HasSubstr(std::string("DEFAULT_COUNTRY_CODE: must be 1 to 3 digits without '+', "
                                      "got '") +
                          bad + "'"));
  }
  env_["DEFAULT_COUNTRY_CODE"] = "1";
  EnvReader reader(LookupFrom(env_));
  EXPECT_EQ(Read(reader).default_country_code, "1");
  EXPECT_TRUE(reader.Finish().ok()) << reader.Finish();
}

TEST_F(CommonConfigTest, ClinicTimezone) {
  env_["CLINIC_TIMEZONE"] = "Mars/Base";
  EnvReader bad(LookupFrom(env_));
  Read(bad);
  EXPECT_THAT(Message(bad), HasSubstr("CLINIC_TIMEZONE: is not a known IANA time zone: "
                                      "'Mars/Base'"));

  env_["CLINIC_TIMEZONE"] = "America/Bogota";
  EnvReader good(LookupFrom(env_));
  EXPECT_EQ(Read(good).clinic_timezone, "America/Bogota");
  EXPECT_TRUE(good.Finish().ok()) << good.Finish();
}

TEST_F(CommonConfigTest, PublicKeysFile) {
  TempDir dir;
  const std::string k1 = NewRsaPublicKeyPem();
  const std::string k2 = NewRsaPublicKeyPem();
  env_.erase("JWT_HS256_SECRET");
  env_["JWT_PUBLIC_KEYS_FILE"] = dir.Write("keys.pem", k1 + "\n" + k2);
  EnvReader reader(LookupFrom(env_));
  const CommonConfig c = Read(reader);
  ASSERT_TRUE(reader.Finish().ok()) << reader.Finish();
  ASSERT_EQ(c.jwt_rs256_public_keys_pem.size(), 2u);
  EXPECT_EQ(c.jwt_rs256_public_keys_pem[0], k1);
  EXPECT_EQ(c.jwt_rs256_public_keys_pem[1], k2);
  EXPECT_TRUE(c.jwt_hs256_secrets.empty());
}

TEST_F(CommonConfigTest, PublicKeysFileProblems) {
  TempDir dir;
  env_["JWT_PUBLIC_KEYS_FILE"] = dir.PathOf("missing.pem");
  EnvReader missing(LookupFrom(env_));
  Read(missing);
  EXPECT_THAT(Message(missing),
              HasSubstr("JWT_PUBLIC_KEYS_FILE: cannot read file " + dir.PathOf("missing.pem")));

  env_["JWT_PUBLIC_KEYS_FILE"] = dir.Write("junk.pem", "not a key\n");
  EnvReader junk(LookupFrom(env_));
  Read(junk);
  EXPECT_THAT(Message(junk), HasSubstr("JWT_PUBLIC_KEYS_FILE: holds no PEM public key"));
}

TEST_F(CommonConfigTest, AllErrorsReportedTogether) {
  const Env env = {{"LOG_LEVEL", "loud"},
                   {"DATABASE_POOL_SIZE", "many"},
                   {"DEFAULT_COUNTRY_CODE", "+57"},
                   {"CLINIC_TIMEZONE", "Mars/Base"}};
  EnvReader reader(LookupFrom(env));
  Read(reader);
  const absl::Status s = reader.Finish();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  const std::string m(s.message());
  for (const char* name :
       {"LOG_LEVEL", "DATABASE_URL", "DATABASE_POOL_SIZE", "DEFAULT_COUNTRY_CODE",
        "CLINIC_TIMEZONE", "JWT_ISSUER", "JWT_AUDIENCE", "JWT_HS256_SECRET"}) {
    EXPECT_THAT(m, HasSubstr(std::string(name) + ": ")) << name;
  }
}

// ---------------------------------------------------------------------------------------------
// ReadElevenLabsConfig

class ElevenLabsConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    api_key_ = RandomHex(24);
    env_ = {{"ELEVENLABS_API_KEY", api_key_},
            {"ELEVENLABS_AGENT_ID", "agent_test_01"},
            {"ELEVENLABS_AGENT_PHONE_NUMBER_ID", "phnum_test_01"}};
  }
  std::string api_key_;
  Env env_;
};

TEST_F(ElevenLabsConfigTest, MinimalValidConfigAndDefaults) {
  EnvReader reader(LookupFrom(env_));
  const ElevenLabsConfig c = ReadElevenLabsConfig(reader);
  ASSERT_TRUE(reader.Finish().ok()) << reader.Finish();
  EXPECT_EQ(c.api_key.Reveal(), api_key_);
  EXPECT_EQ(c.base_url, "https://api.elevenlabs.io");
  EXPECT_EQ(c.agent_id, "agent_test_01");
  EXPECT_EQ(c.agent_phone_number_id, "phnum_test_01");
  EXPECT_EQ(c.webhook_url, "");
  EXPECT_TRUE(c.webhook_secrets.empty());
  EXPECT_EQ(c.max_call_duration_secs, 600);
  EXPECT_TRUE(c.save_call_audio);
  EXPECT_EQ(c.request_timeout, absl::Seconds(15));
  EXPECT_EQ(c.twilio_base_url, "https://api.twilio.com");
}

TEST_F(ElevenLabsConfigTest, MissingRequiredVariablesAreNamed) {
  EnvReader reader(LookupFrom({}));
  ReadElevenLabsConfig(reader);
  const std::string m = Message(reader);
  EXPECT_THAT(m, HasSubstr("ELEVENLABS_API_KEY: is required"));
  EXPECT_THAT(m, HasSubstr("ELEVENLABS_AGENT_ID: is required but not set"));
  EXPECT_THAT(m, HasSubstr("ELEVENLABS_AGENT_PHONE_NUMBER_ID: is required but not set"));
}

TEST_F(ElevenLabsConfigTest, ValuesAndSecretsFromFiles) {
  TempDir dir;
  const std::string current = RandomHex(32);
  const std::string previous = RandomHex(32);
  env_.erase("ELEVENLABS_API_KEY");
  env_["ELEVENLABS_API_KEY_FILE"] = dir.Write("api_key", api_key_ + "\n");
  env_["ELEVENLABS_WEBHOOK_SECRET_FILE"] = dir.Write("whsec", current + "\n");
  env_["ELEVENLABS_WEBHOOK_SECRET_PREVIOUS"] = previous;
  env_["ELEVENLABS_BASE_URL"] = "https://api.elevenlabs.io/";
  env_["ELEVENLABS_WEBHOOK_URL"] = "https://hooks.clinic.test/elevenlabs/";
  env_["ELEVENLABS_MAX_CALL_DURATION"] = "900";
  env_["SAVE_CALL_AUDIO"] = "false";
  env_["ELEVENLABS_TIMEOUT_SECS"] = "30";
  EnvReader reader(LookupFrom(env_));
  const ElevenLabsConfig c = ReadElevenLabsConfig(reader);
  ASSERT_TRUE(reader.Finish().ok()) << reader.Finish();
  EXPECT_EQ(c.api_key.Reveal(), api_key_);
  ASSERT_EQ(c.webhook_secrets.size(), 2u);
  EXPECT_EQ(c.webhook_secrets[0].Reveal(), current);
  EXPECT_EQ(c.webhook_secrets[1].Reveal(), previous);
  EXPECT_EQ(c.base_url, "https://api.elevenlabs.io");
  EXPECT_EQ(c.webhook_url, "https://hooks.clinic.test/elevenlabs");
  EXPECT_EQ(c.max_call_duration_secs, 900);
  EXPECT_FALSE(c.save_call_audio);
  EXPECT_EQ(c.request_timeout, absl::Seconds(30));
}

TEST_F(ElevenLabsConfigTest, InvalidValuesAreNamed) {
  env_["ELEVENLABS_MAX_CALL_DURATION"] = "5";
  env_["SAVE_CALL_AUDIO"] = "sometimes";
  env_["ELEVENLABS_TIMEOUT_SECS"] = "0";
  env_["ELEVENLABS_WEBHOOK_URL"] = "hooks.clinic.test";
  EnvReader reader(LookupFrom(env_));
  ReadElevenLabsConfig(reader);
  const std::string m = Message(reader);
  EXPECT_THAT(m, HasSubstr("ELEVENLABS_MAX_CALL_DURATION: must be an integer from 10 to 7200"));
  EXPECT_THAT(m, HasSubstr("SAVE_CALL_AUDIO: must be true or false, got 'sometimes'"));
  EXPECT_THAT(m, HasSubstr("ELEVENLABS_TIMEOUT_SECS: must be an integer from 1 to 120"));
  EXPECT_THAT(m, HasSubstr("ELEVENLABS_WEBHOOK_URL: must be an http:// or https:// URL"));
}

TEST_F(ElevenLabsConfigTest, PlainHttpOnlyForLoopback) {
  for (const char* url :
       {"http://127.0.0.1:1234", "http://127.0.0.1:1234/", "http://localhost:8080",
        "http://[::1]:8080", "https://api.elevenlabs.io"}) {
    SCOPED_TRACE(url);
    env_["ELEVENLABS_BASE_URL"] = url;
    EnvReader reader(LookupFrom(env_));
    const ElevenLabsConfig c = ReadElevenLabsConfig(reader);
    EXPECT_TRUE(reader.Finish().ok()) << reader.Finish();
    EXPECT_NE(c.base_url.back(), '/');
  }
  for (const char* url : {"http://example.com", "http://localhost.evil.test",
                          "http://localhost.evil.test:1234/v1", "http://10.0.0.5:8080"}) {
    SCOPED_TRACE(url);
    env_["ELEVENLABS_BASE_URL"] = url;
    EnvReader reader(LookupFrom(env_));
    ReadElevenLabsConfig(reader);
    EXPECT_THAT(Message(reader), HasSubstr("ELEVENLABS_BASE_URL: must be https://"));
  }
}

// Host names that merely start with "127." or URLs whose userinfo looks like a loopback host
// point elsewhere: the API key would travel in clear to a remote host.
TEST_F(ElevenLabsConfigTest, PlainHttpLookalikeLoopbackHostsRefused) {
  {
    // Boost.URL 1.81 reads this host as 127.0.0.1 (and ".evil.test" as the path): refused as
    // unreadable rather than trusted as loopback.
    env_["ELEVENLABS_BASE_URL"] = "http://127.0.0.1.evil.test";
    EnvReader reader(LookupFrom(env_));
    ReadElevenLabsConfig(reader);
    EXPECT_THAT(Message(reader), HasSubstr("ELEVENLABS_BASE_URL: has no valid host"));
    EXPECT_FALSE(IsLoopbackUrl("http://127.0.0.1.evil.test"));
    EXPECT_FALSE(IsLoopbackUrl("http://127.0.0.1.evil.test/v1"));
  }
  for (const char* url : {"http://127.0.0.1@evil.test",
                          "http://localhost:80@evil.test", "http://127.0.0.1:1234@evil.test/"}) {
    SCOPED_TRACE(url);
    env_["ELEVENLABS_BASE_URL"] = url;
    EnvReader reader(LookupFrom(env_));
    ReadElevenLabsConfig(reader);
    EXPECT_THAT(Message(reader), HasSubstr("ELEVENLABS_BASE_URL: must be https://"));
  }
}

TEST_F(ElevenLabsConfigTest, TwilioSettingsGoTogether) {
  env_["TWILIO_ACCOUNT_SID"] = "AC_test_account";
  EnvReader only_sid(LookupFrom(env_));
  ReadElevenLabsConfig(only_sid);
  EXPECT_THAT(Message(only_sid), HasSubstr("TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN must be set "
                                           "together"));

  const std::string token = RandomHex(16);
  env_["TWILIO_AUTH_TOKEN"] = token;
  env_["TWILIO_BASE_URL"] = "https://twilio.sim.test/";
  EnvReader both(LookupFrom(env_));
  const ElevenLabsConfig c = ReadElevenLabsConfig(both);
  ASSERT_TRUE(both.Finish().ok()) << both.Finish();
  EXPECT_EQ(c.twilio_account_sid, "AC_test_account");
  EXPECT_EQ(c.twilio_auth_token.Reveal(), token);
  EXPECT_EQ(c.twilio_base_url, "https://twilio.sim.test");
}

TEST_F(ElevenLabsConfigTest, ApiKeyAndFileBothSet) {
  TempDir dir;
  env_["ELEVENLABS_API_KEY_FILE"] = dir.Write("k", api_key_);
  EnvReader reader(LookupFrom(env_));
  ReadElevenLabsConfig(reader);
  const std::string m = Message(reader);
  EXPECT_THAT(m, HasSubstr("set either ELEVENLABS_API_KEY or ELEVENLABS_API_KEY_FILE, not both"));
  EXPECT_THAT(m, Not(HasSubstr(api_key_)));
}

}  // namespace
}  // namespace outcall::common

// Configuration from the environment: every problem named, secrets never echoed.
#include "outcall/common/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "outcall/common/crypto.h"

namespace outcall::common {
namespace {

EnvLookup MapEnv(std::map<std::string, std::string> m) {
  return [m = std::move(m)](std::string_view name) -> std::optional<std::string> {
    auto it = m.find(std::string(name));
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
}

std::map<std::string, std::string> Valid() {
  return {{"DATABASE_URL", "postgresql://outcall@127.0.0.1:5432/outcall"},
          {"JWT_ISSUER", "issuer"},
          {"JWT_AUDIENCE", "outcall, other"},
          {"JWT_HS256_SECRET", RandomHex(32)},
          {"ELEVENLABS_API_KEY", RandomHex(16)},
          {"ELEVENLABS_AGENT_ID", "agent_1"},
          {"ELEVENLABS_AGENT_PHONE_NUMBER_ID", "phnum_1"}};
}

std::string Errors(std::map<std::string, std::string> env) {
  EnvReader r(MapEnv(std::move(env)));
  ReadCommonConfig(r, {"0.0.0.0:50051", "0.0.0.0:9101"});
  ReadElevenLabsConfig(r);
  return std::string(r.Finish().message());
}

TEST(Config, ValidEnvironmentParsesWithDefaults) {
  EnvReader r(MapEnv(Valid()));
  CommonConfig c = ReadCommonConfig(r, {"0.0.0.0:50051", "0.0.0.0:9101"});
  ElevenLabsConfig e = ReadElevenLabsConfig(r);
  ASSERT_TRUE(r.Finish().ok()) << r.Finish();
  EXPECT_EQ(c.grpc_listen_address, "0.0.0.0:50051");
  EXPECT_EQ(c.jwt_audiences, (std::vector<std::string>{"outcall", "other"}));
  EXPECT_EQ(c.clinic_timezone, "America/Bogota");
  EXPECT_EQ(c.default_country_code, "57");
  EXPECT_EQ(e.max_call_duration_secs, 600);
  EXPECT_TRUE(e.save_call_audio);
  EXPECT_EQ(e.base_url, "https://api.elevenlabs.io");
}

TEST(Config, MissingRequiredVariablesAreAllNamed) {
  const std::string err = Errors({});
  for (const char* v : {"DATABASE_URL", "JWT_ISSUER", "JWT_AUDIENCE", "JWT_HS256_SECRET",
                        "ELEVENLABS_API_KEY", "ELEVENLABS_AGENT_ID",
                        "ELEVENLABS_AGENT_PHONE_NUMBER_ID"}) {
    EXPECT_NE(err.find(v), std::string::npos) << v << " in " << err;
  }
}

TEST(Config, InvalidValuesAreNamed) {
  auto env = Valid();
  env["DATABASE_POOL_SIZE"] = "lots";
  env["SAVE_CALL_AUDIO"] = "maybe";
  env["LOG_LEVEL"] = "loud";
  env["ELEVENLABS_MAX_CALL_DURATION"] = "0";
  env["DEFAULT_COUNTRY_CODE"] = "+57";
  env["CLINIC_TIMEZONE"] = "Mars/Base";
  env["GRPC_LISTEN_ADDRESS"] = "nowhere";
  const std::string err = Errors(env);
  for (const char* v : {"DATABASE_POOL_SIZE", "SAVE_CALL_AUDIO", "LOG_LEVEL",
                        "ELEVENLABS_MAX_CALL_DURATION", "DEFAULT_COUNTRY_CODE", "CLINIC_TIMEZONE",
                        "GRPC_LISTEN_ADDRESS"}) {
    EXPECT_NE(err.find(v), std::string::npos) << v << " in " << err;
  }
}

TEST(Config, SecretsComeFromFilesAndAreNeverEchoed) {
  const std::string canary = "canary" + RandomHex(20);
  const auto path = std::filesystem::temp_directory_path() / ("secret_" + RandomHex(4));
  std::ofstream(path) << canary << "\n";
  auto env = Valid();
  env.erase("JWT_HS256_SECRET");
  env["JWT_HS256_SECRET_FILE"] = path.string();
  EnvReader r(MapEnv(env));
  CommonConfig c = ReadCommonConfig(r, {"0.0.0.0:1", ""});
  ASSERT_TRUE(r.Finish().ok()) << r.Finish();
  ASSERT_EQ(c.jwt_hs256_secrets.size(), 1u);
  EXPECT_EQ(c.jwt_hs256_secrets[0].Reveal(), canary);  // trailing newline removed
  std::filesystem::remove(path);

  // Both forms at once, an unreadable file, a short secret, a bad URL holding a password.
  env = Valid();
  env["ELEVENLABS_API_KEY_FILE"] = "/nonexistent/key";
  env["JWT_HS256_SECRET"] = "short-" + canary.substr(0, 10);
  env["DATABASE_URL"] = "mysql://root:" + canary + "@db";
  const std::string err = Errors(env);
  EXPECT_NE(err.find("set either ELEVENLABS_API_KEY or ELEVENLABS_API_KEY_FILE"),
            std::string::npos) << err;
  EXPECT_NE(err.find("JWT_HS256_SECRET: must be at least 32 bytes"), std::string::npos) << err;
  EXPECT_NE(err.find("DATABASE_URL"), std::string::npos) << err;
  EXPECT_EQ(err.find(canary), std::string::npos) << err;
  EXPECT_EQ(err.find(canary.substr(0, 10)), std::string::npos) << err;

  env = Valid();
  env.erase("ELEVENLABS_API_KEY");
  env["ELEVENLABS_API_KEY_FILE"] = "/nonexistent/key";
  EXPECT_NE(Errors(env).find("ELEVENLABS_API_KEY_FILE: cannot read file /nonexistent/key"),
            std::string::npos);
}

TEST(Config, PlainHttpOnlyForLoopback) {
  auto env = Valid();
  env["ELEVENLABS_BASE_URL"] = "http://127.0.0.1:8090/";
  EnvReader r(MapEnv(env));
  ReadCommonConfig(r, {"0.0.0.0:1", ""});
  ElevenLabsConfig e = ReadElevenLabsConfig(r);
  EXPECT_TRUE(r.Finish().ok()) << r.Finish();
  EXPECT_EQ(e.base_url, "http://127.0.0.1:8090");  // trailing slash removed
  for (const char* bad : {"http://example.com", "http://localhost.evil.test", "ftp://x", "https://"}) {
    env["ELEVENLABS_BASE_URL"] = bad;
    EXPECT_NE(Errors(env).find("ELEVENLABS_BASE_URL"), std::string::npos) << bad;
  }
  env["ELEVENLABS_BASE_URL"] = "http://localhost:8090";
  EXPECT_EQ(Errors(env).find("ELEVENLABS_BASE_URL"), std::string::npos);
}

TEST(Config, TwilioCredentialsComeInPairs) {
  auto env = Valid();
  env["TWILIO_ACCOUNT_SID"] = "AC123";
  EXPECT_NE(Errors(env).find("TWILIO_ACCOUNT_SID"), std::string::npos);
  env["TWILIO_AUTH_TOKEN"] = RandomHex(16);
  EXPECT_EQ(Errors(env).find("TWILIO"), std::string::npos);
}

TEST(Config, EmptyMeansUnset) {
  auto env = Valid();
  env["LOG_LEVEL"] = "";
  EnvReader r(MapEnv(env));
  CommonConfig c = ReadCommonConfig(r, {"0.0.0.0:1", ""});
  EXPECT_TRUE(r.Finish().ok());
  EXPECT_EQ(c.log_level, "info");
}

}  // namespace
}  // namespace outcall::common

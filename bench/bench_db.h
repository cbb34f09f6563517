// What the database benchmarks (stats_bench, policy_bench) share: printing as they go, timing,
// percentiles, the benchmark database's URL, and the generated data set kept between runs
// (a marker table says which size and generator version is loaded, so a rerun reuses it).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <pqxx/pqxx>
#include <string>
#include <vector>

namespace outcall::bench {

using Clock = std::chrono::steady_clock;

inline void Say(const std::string& s) {
  std::printf("%s\n", s.c_str());
  std::fflush(stdout);
}

inline double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// The `p` quantile (0..1) of `ms`, nearest rank; 0 for no samples.
inline double Percentile(std::vector<double> ms, double p) {
  if (ms.empty()) return 0;
  std::sort(ms.begin(), ms.end());
  return ms[std::min(ms.size() - 1, static_cast<size_t>(p * (ms.size() - 1) + 0.5))];
}

// `url` with its database replaced by `db` (the query string kept).
inline std::string ReplaceDb(const std::string& url, const std::string& db) {
  const size_t scheme = url.find("://");
  const size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash == std::string::npos) return url + "/" + db;
  const size_t query = url.find('?', slash);
  return url.substr(0, slash + 1) + db + (query == std::string::npos ? "" : url.substr(query));
}

// Whether the data set in the database is `rows` rows of generator `version` (marker table).
inline bool DatasetReady(pqxx::connection& c, const std::string& marker, int64_t rows,
                         int version) {
  pqxx::work tx(c);
  if (tx.exec1("SELECT to_regclass('" + marker + "') IS NULL")[0].as<bool>()) return false;
  auto r = tx.exec("SELECT rows, version FROM " + marker);
  return r.size() == 1 && r[0][0].as<int64_t>() == rows && r[0][1].as<int>() == version;
}

// After a load: the tables vacuumed and analysed (timed), then the marker written.
inline void FinishDataset(pqxx::connection& c, const std::string& marker, int64_t rows, int version,
                          std::initializer_list<const char*> tables) {
  {
    pqxx::nontransaction tx(c);
    const auto t1 = Clock::now();
    tx.exec("SET maintenance_work_mem = '512MB'");
    for (const char* t : tables) tx.exec(std::string("VACUUM (ANALYZE) ") + t);
    Say("  vacuum analyze: " + std::to_string(static_cast<int>(Ms(Clock::now() - t1) / 1000)) +
        " s");
  }
  pqxx::work tx(c);
  tx.exec("CREATE TABLE " + marker +
          " (rows bigint NOT NULL, version integer NOT NULL, loaded_at timestamptz NOT NULL "
          "DEFAULT now())");
  tx.exec("INSERT INTO " + marker + " (rows, version) VALUES (" + std::to_string(rows) + ", " +
          std::to_string(version) + ")");
  tx.commit();
}

}  // namespace outcall::bench

// Error propagation, after "Concurrency in Go", chapter 5: each module wraps
// the errors it lets out in a well-formed goro::error; the top level logs
// the full story under a log id and shows the user one friendly line.
#include <goro/error.hpp>
#include <goro/goro.hpp>

#include <filesystem>
#include <iostream>
#include <string>
#include <utility>

namespace lowlevel {
// Is the file at path executable by everyone? (the book's isGloballyExec)
std::pair<bool, goro::error> is_globally_exec(const std::string& path) {
  std::error_code ec;
  auto st = std::filesystem::status(path, ec);  // os.Stat
  if (ec) return {false, goro::wrap(ec, "stat {}: {}", path, ec.message())};
  auto perms = st.permissions();
  return {(perms & std::filesystem::perms::others_exec) != std::filesystem::perms::none, {}};
}
}  // namespace lowlevel

namespace intermediate {
// Runs a job. At this module's boundary the low-level error is wrapped in
// one of ours and marked as fit to show users (the book's IntermediateErr).
goro::error run_job(const std::string& id) {
  const std::string job_bin_path = "/bad/job/binary";
  auto [executable, err] = lowlevel::is_globally_exec(job_bin_path);
  if (err) {
    return goro::wrap(err, "cannot run job \"{}\": requisite binaries not available", id)
        .with("job", id)
        .with_user_message();
  }
  if (!executable) return goro::make_error("job binary is not executable");
  return {};  // here the book would exec the binary
}

// The same, from before the module learnt to wrap: a raw error escapes.
goro::error run_job_unwrapped(const std::string& /*id*/) {
  return lowlevel::is_globally_exec("/bad/job/binary").second;
}
}  // namespace intermediate

// The top level: the full error goes to the log under a log id; the user sees
// the user-facing message, or, for anything not vetted, a plea to report it.
void handle_error(int key, const goro::error& err, const std::string& message) {
  std::cout << "[logID: " << key << "]: " << err.with_log_id(std::to_string(key)).format();
  std::cout << "[" << key << "] " << message << "\n";
}

int main() {
  goro::run([] {
    // The jobs run in goroutines; their errors come back over a channel.
    auto results = goro::make_chan<std::pair<int, goro::error>>(2);
    goro::go([results] { results.send({1, intermediate::run_job("1")}); });
    goro::go([results] { results.send({2, intermediate::run_job_unwrapped("2")}); });
    for (int i = 0; i < 2; ++i) {
      auto [key, err] = *results.recv();
      if (!err) continue;
      std::string msg = "There was an unexpected issue; please report this as a bug.";
      if (goro::is_user_facing(err)) msg = err.user_message();
      handle_error(key, err, msg);
    }
  });
}

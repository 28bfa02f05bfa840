// write_file_atomically: the file appears only when every byte was written; a body that
// throws, a failed write (a file-size limit, as on a full disk) or a path that cannot be
// created leaves no partial file and an earlier file at the path unchanged.
#include "core/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/error.h"

namespace pocket {
namespace {

namespace fs = std::filesystem;

class AtomicFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("pocket_atomic_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    path_ = (dir_ / "out.bin").string();
  }
  void TearDown() override { fs::remove_all(dir_); }

  static std::string read(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  void write_earlier_file() { std::ofstream(path_, std::ios::binary) << "earlier"; }
  void expect_earlier_file_only() {
    EXPECT_EQ(read(path_), "earlier");
    EXPECT_FALSE(fs::exists(path_ + ".partial"));
  }

  fs::path dir_;
  std::string path_;
};

TEST_F(AtomicFile, WritesTheBytesAndReplacesAnEarlierFile) {
  write_earlier_file();
  write_file_atomically(path_, [](std::FILE* f) { std::fputs("new bytes", f); });
  EXPECT_EQ(read(path_), "new bytes");
  EXPECT_FALSE(fs::exists(path_ + ".partial"));
}

TEST_F(AtomicFile, BodyThatThrowsLeavesTheEarlierFile) {
  write_earlier_file();
  EXPECT_THROW(write_file_atomically(path_,
                                     [](std::FILE* f) {
                                       std::fputs("half", f);
                                       throw std::runtime_error("producer failed");
                                     }),
               std::runtime_error);
  expect_earlier_file_only();
}

TEST_F(AtomicFile, FailedWriteIsAnErrorAndLeavesTheEarlierFile) {
  write_earlier_file();
  // Writes past a 64 KiB file-size limit fail with EFBIG (SIGXFSZ ignored), as on a full disk.
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  auto* old_handler = std::signal(SIGXFSZ, SIG_IGN);
  rlimit small = old;
  small.rlim_cur = 64 * 1024;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  std::string message;
  try {
    write_file_atomically(path_, [](std::FILE* f) {
      const std::vector<char> block(1 << 20, 'x');
      std::fwrite(block.data(), 1, block.size(), f);  // unchecked, as the callers write
    });
  } catch (const Error& e) {
    message = e.what();
  }
  setrlimit(RLIMIT_FSIZE, &old);
  std::signal(SIGXFSZ, old_handler);
  EXPECT_NE(message.find(path_ + ": write failed"), std::string::npos) << message;
  expect_earlier_file_only();
}

TEST_F(AtomicFile, UncreatablePathIsAnErrorNamingIt) {
  const std::string bad = (dir_ / "no_such_dir" / "out.bin").string();
  try {
    write_file_atomically(bad, [](std::FILE*) {});
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(bad + ": cannot create output file"), std::string::npos)
        << e.what();
  }
  EXPECT_FALSE(fs::exists(bad));
}

}  // namespace
}  // namespace pocket

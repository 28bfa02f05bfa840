// The kernel tables this machine offers: the ones the CPU should have are really there (so
// that the comparisons with the scalar twins in the other tests cannot pass vacuously), each
// is named after its key, and an ARM build always has NEON. POCKET_EXPECT_ISAS (a
// space-separated list, set by scripts/test-arm.sh per emulated CPU) names exactly the SIMD
// tables expected.
#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>

#include "kernel_test_util.h"
#include "kernels/cpu_features.h"

namespace pocket::test {
namespace {

#if defined(__aarch64__)
constexpr bool kArmBuild = true;
#else
constexpr bool kArmBuild = false;
#endif

TEST(KernelTables, EachTableCarriesItsName) {
  EXPECT_EQ(scalar_table().isa, "scalar");
  for (const auto& isa : simd_isas()) {
    const kernels::KernelTable* table = kernels::table_for(isa);
    ASSERT_NE(table, nullptr) << isa;
    EXPECT_EQ(table->isa.rfind(isa, 0), 0u) << isa << " table says " << table->isa;
  }
  EXPECT_EQ(kernels::table_for("no-such-isa"), nullptr);
}

TEST(KernelTables, ArmBuildsHaveNeon) {
  if (!kArmBuild) GTEST_SKIP() << "not an AArch64 build";
  EXPECT_TRUE(kernels::cpu_features().neon) << kernels::cpu_features().describe();
  ASSERT_NE(kernels::table_for("neon"), nullptr);
  // The dot-product table exists exactly when the CPU reports SDOT, the i8mm one (built on it)
  // when it also reports SMMLA.
  EXPECT_EQ(kernels::table_for("neon-dotprod") != nullptr, kernels::cpu_features().neon_dotprod);
  EXPECT_EQ(kernels::table_for("neon-i8mm") != nullptr,
            kernels::cpu_features().neon_dotprod && kernels::cpu_features().neon_i8mm);
}

TEST(KernelTables, ExpectedIsasArePresent) {
  const char* env = std::getenv("POCKET_EXPECT_ISAS");
  if (env == nullptr) GTEST_SKIP() << "POCKET_EXPECT_ISAS not set";
  std::vector<std::string> want;
  std::istringstream words(env);
  for (std::string w; words >> w;) want.push_back(w);
  EXPECT_EQ(simd_isas(), want) << "cpu features: " << kernels::cpu_features().describe();
}

}  // namespace
}  // namespace pocket::test

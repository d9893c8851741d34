// Result<void, E>: the "ok or why" of a step that yields nothing.
#include <gtest/gtest.h>

#include <string>

#include "common/result.hpp"

using namespace relay;

namespace {

Result<void, std::string> step(bool fails) {
  if (fails) return Err{std::string("the step failed")};
  return {};
}

}  // namespace

TEST(ResultVoid, ASuccessIsOkAndCarriesNoError) {
  auto r = step(false);
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(static_cast<bool>(r));
}

TEST(ResultVoid, AFailureCarriesItsReason) {
  auto r = step(true);
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.error(), "the step failed");
}

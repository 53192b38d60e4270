// SPDX-License-Identifier: Apache-2.0
#include <mailkit/core/thread_name.hpp>

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <thread>
#include <unistd.h>

namespace {

// What ps and top read: /proc/self/task/<tid>/comm.
std::string comm_of_this_thread() {
  std::ifstream f("/proc/self/task/" + std::to_string(gettid()) + "/comm");
  std::string s;
  std::getline(f, s);
  return s;
}

TEST(ThreadName, NamesTheCallingThreadOnly) {
  const std::string before = mailkit::this_thread_name();
  std::string inside, comm;
  std::thread t([&] {
    EXPECT_TRUE(mailkit::name_this_thread("mk-test"));
    inside = mailkit::this_thread_name();
    comm = comm_of_this_thread();
  });
  t.join();
  EXPECT_EQ(inside, "mk-test");
  EXPECT_EQ(comm, "mk-test");
  EXPECT_EQ(mailkit::this_thread_name(), before);
}

TEST(ThreadName, LongNamesAreCutAtFifteenBytes) {
  std::string got;
  std::thread t([&] {
    EXPECT_TRUE(mailkit::name_this_thread("mk-a-name-longer-than-fifteen"));
    got = mailkit::this_thread_name();
  });
  t.join();
  EXPECT_EQ(got, "mk-a-name-longe");
  EXPECT_EQ(got.size(), 15u);
}

} // namespace

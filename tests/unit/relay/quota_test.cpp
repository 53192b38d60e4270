// SPDX-License-Identifier: Apache-2.0
// Quota tracker: daily (calendar and rolling) and per-minute limits, bulk share, provider holds,
// warnings, refunds, and state that survives a restart.
#include <mailkit/relay/quota.hpp>

#include <gtest/gtest.h>

#include <filesystem>
#include <unistd.h>

using namespace mailkit;
using namespace mailkit::relay;
using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using time_point = mailkit::relay::time_point;

namespace {

// 2026-03-10 10:30:00 UTC.
const time_point t0 = time_point(seconds(1773138600));

std::string temp_db(const char* tag) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("mailkit-quota-" + std::to_string(::getpid()) + "-" + tag);
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return (dir / "quota.db").string();
}

} // namespace

TEST(relay_quota, window_start_with_offset) {
  EXPECT_EQ(window_start(t0, minutes(0)), time_point(seconds(1773100800))); // 00:00 UTC
  // A reset at 08:00 UTC: 10:30 is in the window that began at 08:00 the same day.
  EXPECT_EQ(window_start(t0, hours(8)), time_point(seconds(1773100800 + 8 * 3600)));
  // A reset at 12:00 UTC: 10:30 is still in yesterday's window.
  EXPECT_EQ(window_start(t0, hours(12)), time_point(seconds(1773100800 - 12 * 3600)));
}

TEST(relay_quota, calendar_day_holds_until_reset) {
  manual_clock clk(t0);
  auto q = quota_tracker::open("", &clk);
  ASSERT_TRUE(q);
  limits l;
  l.per_day = 3;
  l.counting = count_mode::per_message;
  for (int i = 0; i < 3; ++i)
    EXPECT_TRUE((*q)->reserve("oci", l, 1, priority::interactive).granted);
  auto d = (*q)->reserve("oci", l, 1, priority::interactive);
  EXPECT_FALSE(d.granted);
  EXPECT_EQ(d.until, time_point(seconds(1773100800 + 86400)));
  EXPECT_NE(d.reason.find("daily quota of 3"), std::string::npos);
  // Another relay has its own count.
  EXPECT_TRUE((*q)->reserve("brevo", l, 1, priority::interactive).granted);
  clk.set(d.until);
  EXPECT_TRUE((*q)->reserve("oci", l, 1, priority::interactive).granted);
}

TEST(relay_quota, per_recipient_units_and_refund) {
  manual_clock clk(t0);
  auto q = *quota_tracker::open("", &clk);
  limits l;
  l.per_day = 10;
  EXPECT_TRUE(q->reserve("r", l, 8, priority::interactive).granted);
  EXPECT_FALSE(q->reserve("r", l, 3, priority::interactive).granted);
  q->refund("r", 2, clk.now()); // two recipients were refused: not counted
  EXPECT_TRUE(q->reserve("r", l, 3, priority::interactive).granted);
  EXPECT_EQ(q->usage("r", l).used_today, 9u);
}

TEST(relay_quota, bulk_leaves_room_for_interactive) {
  manual_clock clk(t0);
  auto q = *quota_tracker::open("", &clk);
  limits l;
  l.per_day = 10;
  l.bulk_share = 0.8;
  for (int i = 0; i < 8; ++i)
    EXPECT_TRUE(q->reserve("r", l, 1, priority::bulk).granted);
  auto bulk = q->reserve("r", l, 1, priority::bulk);
  EXPECT_FALSE(bulk.granted);
  EXPECT_TRUE(q->reserve("r", l, 1, priority::interactive).granted);
  EXPECT_TRUE(q->reserve("r", l, 1, priority::interactive).granted);
  auto inter = q->reserve("r", l, 1, priority::interactive);
  EXPECT_FALSE(inter.granted);
  // Held bulk goes after held interactive mail.
  EXPECT_EQ(bulk.until, inter.until + l.bulk_release_delay);
}

TEST(relay_quota, per_minute) {
  manual_clock clk(t0 + seconds(15));
  auto q = *quota_tracker::open("", &clk);
  limits l;
  l.per_minute = 2;
  EXPECT_TRUE(q->reserve("r", l, 1, priority::interactive).granted);
  EXPECT_TRUE(q->reserve("r", l, 1, priority::interactive).granted);
  auto d = q->reserve("r", l, 1, priority::interactive);
  EXPECT_FALSE(d.granted);
  EXPECT_EQ(d.until, t0 + seconds(60)); // the next clock minute
  clk.advance(seconds(60));
  EXPECT_TRUE(q->reserve("r", l, 1, priority::interactive).granted);
}

TEST(relay_quota, rolling_window_releases_when_old_units_leave) {
  manual_clock clk(t0);
  auto q = *quota_tracker::open("", &clk);
  limits l;
  l.per_day = 4;
  l.window = quota_window::rolling_24h;
  EXPECT_TRUE(q->reserve("ses", l, 2, priority::interactive).granted); // at t0
  clk.advance(hours(5));
  EXPECT_TRUE(q->reserve("ses", l, 2, priority::interactive).granted); // at t0 + 5h
  auto d = q->reserve("ses", l, 1, priority::interactive);
  EXPECT_FALSE(d.granted);
  // The two units of t0 leave the window 24 hours after their minute.
  EXPECT_EQ(d.until, t0 + hours(24));
  clk.set(t0 + hours(24) + minutes(1));
  EXPECT_TRUE(q->reserve("ses", l, 2, priority::interactive).granted);
  EXPECT_FALSE(q->reserve("ses", l, 1, priority::interactive).granted);
}

TEST(relay_quota, provider_hold) {
  manual_clock clk(t0);
  auto q = *quota_tracker::open("", &clk);
  limits l; // no limits of our own
  EXPECT_TRUE(q->reserve("oci", l, 1, priority::interactive).granted);
  const time_point until = q->next_reset(l);
  q->hold("oci", until, "455 Maximum messages sent per day reached : limit is 100");
  auto d = q->reserve("oci", l, 1, priority::interactive);
  EXPECT_FALSE(d.granted);
  EXPECT_EQ(d.until, until);
  EXPECT_NE(d.reason.find("Maximum messages"), std::string::npos);
  EXPECT_TRUE(q->usage("oci", l).held_until.has_value());
  clk.set(until);
  EXPECT_TRUE(q->reserve("oci", l, 1, priority::interactive).granted);
}

TEST(relay_quota, warning_once_per_window) {
  manual_clock clk(t0);
  auto q = *quota_tracker::open("", &clk);
  int warnings = 0;
  q->set_warning_hook([&](std::string_view relay, std::uint64_t used, std::uint64_t limit) {
    EXPECT_EQ(relay, "r");
    EXPECT_EQ(limit, 10u);
    EXPECT_EQ(used, 8u);
    ++warnings;
  });
  limits l;
  l.per_day = 10;
  for (int i = 0; i < 7; ++i)
    EXPECT_FALSE(q->reserve("r", l, 1, priority::interactive).warn);
  EXPECT_TRUE(q->reserve("r", l, 1, priority::interactive).warn); // 8 of 10 = 80%
  EXPECT_FALSE(q->reserve("r", l, 1, priority::interactive).warn);
  EXPECT_EQ(warnings, 1);
}

TEST(relay_quota, state_survives_restart) {
  const std::string path = temp_db("restart");
  manual_clock clk(t0);
  limits l;
  l.per_day = 2;
  {
    auto q = quota_tracker::open(path, &clk);
    ASSERT_TRUE(q);
    EXPECT_TRUE((*q)->reserve("r", l, 2, priority::interactive).granted);
    (*q)->hold("other", t0 + hours(3), "455 quota");
  }
  auto q = quota_tracker::open(path, &clk);
  ASSERT_TRUE(q);
  EXPECT_FALSE((*q)->reserve("r", l, 1, priority::interactive).granted);
  EXPECT_EQ((*q)->usage("r", l).used_today, 2u);
  auto h = (*q)->reserve("other", limits{}, 1, priority::interactive);
  EXPECT_FALSE(h.granted);
  EXPECT_EQ(h.until, t0 + hours(3));
  std::filesystem::remove_all(std::filesystem::path(path).parent_path());
}

TEST(relay_quota, unopenable_database) {
  EXPECT_FALSE(quota_tracker::open("/nonexistent-dir/x/y/quota.db"));
}

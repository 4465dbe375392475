#include "virtctl/channel.h"

#include <gtest/gtest.h>

namespace vireo::virtctl {
namespace {

using namespace std::string_literals;

TEST(ChannelTest, EncodesEachChannelWithItsLeadingByte) {
  EXPECT_EQ(EncodeFrame(Channel::kStdin, "ls\n"), "\x00ls\n"s);
  EXPECT_EQ(EncodeFrame(Channel::kStdout, ""), "\x01"s);
  EXPECT_EQ(EncodeFrame(Channel::kStdin, "\x00\xff\x1d"s), "\x00\x00\xff\x1d"s);
  EXPECT_EQ(EncodeClose(Channel::kStdin), "\xff\x00"s);
  EXPECT_EQ(EncodeResize(80, 24), "\x04{\"Width\":80,\"Height\":24}"s);
}

TEST(ChannelTest, DecodesRecordedServerMessages) {
  // What an apiserver sends for `echo hi; echo oops >&2` under v5: empty
  // opening messages, output, then the Success status and the closes.
  const std::string recorded[] = {"\x01"s,
                                  "\x02"s,
                                  "\x01hi\n"s,
                                  "\x02oops\n"s,
                                  "\x03{\"metadata\":{},\"status\":\"Success\"}"s,
                                  "\xff\x01"s};
  std::vector<Frame> frames;
  for (const auto& m : recorded) {
    auto f = DecodeFrame(m, Protocol::kV5);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    frames.push_back(*f);
  }
  EXPECT_EQ(frames[0].channel, Channel::kStdout);
  EXPECT_EQ(frames[0].payload, "");
  EXPECT_EQ(frames[2].payload, "hi\n");
  EXPECT_EQ(frames[3].channel, Channel::kStderr);
  EXPECT_EQ(frames[3].payload, "oops\n");
  EXPECT_EQ(frames[4].channel, Channel::kError);
  EXPECT_TRUE(ParseExitStatus(frames[4].payload).success);
  EXPECT_EQ(frames[5].channel, Channel::kClose);
  EXPECT_EQ(frames[5].payload, "\x01"s);
}

TEST(ChannelTest, BinaryPayloadSurvivesUnchanged) {
  std::string bytes = "\x00\x01\x1b[2J\r\n\xff\xfe"s;
  auto f = DecodeFrame(EncodeFrame(Channel::kStdout, bytes), Protocol::kV4);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->payload, bytes);
}

TEST(ChannelTest, RefusesMalformedMessages) {
  EXPECT_EQ(DecodeFrame("", Protocol::kV5).status().code(), base::Code::kBadRequest);
  auto unknown = DecodeFrame("\x07x"s, Protocol::kV5);
  EXPECT_FALSE(unknown.ok());
  EXPECT_NE(unknown.status().message().find("unknown channel 7"), std::string::npos);
  // Close is v5 only, and names exactly one known channel.
  EXPECT_FALSE(DecodeFrame("\xff\x00"s, Protocol::kV4).ok());
  EXPECT_FALSE(DecodeFrame("\xff"s, Protocol::kV5).ok());
  EXPECT_FALSE(DecodeFrame("\xff\x00\x01"s, Protocol::kV5).ok());
  EXPECT_FALSE(DecodeFrame("\xff\x09"s, Protocol::kV5).ok());
}

TEST(ChannelTest, ProtocolNames) {
  EXPECT_STREQ(ProtocolName(Protocol::kV5), "v5.channel.k8s.io");
  EXPECT_STREQ(ProtocolName(Protocol::kV4), "v4.channel.k8s.io");
}

TEST(ExitStatusTest, ReadsTheExitCodeOfAFailedCommand) {
  // As the kubelet reports `sh -c 'exit 3'`.
  auto s = ParseExitStatus(
      R"({"metadata":{},"status":"Failure","message":"command terminated with non-zero exit code: error executing command [sh -c exit 3], exit code 3","reason":"NonZeroExitCode","details":{"causes":[{"reason":"ExitCode","message":"3"}]}})");
  EXPECT_FALSE(s.success);
  ASSERT_TRUE(s.exit_code.has_value());
  EXPECT_EQ(*s.exit_code, 3);
  EXPECT_NE(s.message.find("exit code 3"), std::string::npos);
}

TEST(ExitStatusTest, FailureWithoutExitCodeKeepsTheMessage) {
  auto s = ParseExitStatus(
      R"j({"status":"Failure","message":"container not found (\"compute\")","reason":"InternalError"})j");
  EXPECT_FALSE(s.success);
  EXPECT_FALSE(s.exit_code.has_value());
  EXPECT_EQ(s.message, "container not found (\"compute\")");
}

TEST(ExitStatusTest, NonJsonPayloadIsAFailureWithItsText) {
  auto s = ParseExitStatus("error: stream closed");
  EXPECT_FALSE(s.success);
  EXPECT_EQ(s.message, "error: stream closed");
  auto bad_code = ParseExitStatus(
      R"({"status":"Failure","details":{"causes":[{"reason":"ExitCode","message":"x3"}]}})");
  EXPECT_FALSE(bad_code.exit_code.has_value());
  EXPECT_EQ(bad_code.message, "the command failed");
}

}  // namespace
}  // namespace vireo::virtctl

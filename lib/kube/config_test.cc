// Kubeconfig and in-cluster loading: good files, merged files and broken
// files, each broken one checked for a message naming the file and field.
#include "lib/kube/config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>

namespace vireo::kube {

using base::Code;
using base::Result;

namespace {

namespace fs = std::filesystem;

constexpr char kGood[] = R"(apiVersion: v1
kind: Config
clusters:
- name: prod
  cluster:
    server: https://10.0.0.1:6443/
    certificate-authority-data: Q0EtUEVN
    tls-server-name: api.prod
- name: dev
  cluster:
    server: https://dev:443
    insecure-skip-tls-verify: true
users:
- name: admin
  user:
    client-certificate-data: Q0VSVC1QRU0=
    client-key-data: S0VZLVBFTQ==
- name: bot
  user:
    token: s3cret
contexts:
- name: prod-admin
  context: {cluster: prod, user: admin, namespace: vms}
- name: dev-bot
  context: {cluster: dev, user: bot}
- name: dev-anonymous
  context: {cluster: dev}
current-context: prod-admin
)";

// Keeps the environment variables the loaders read out of the tests' way
// and gives each test its own directory.
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* name : {"KUBECONFIG", "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT"}) {
      const char* value = std::getenv(name);
      if (value != nullptr) saved_env_[name] = value;
      unsetenv(name);
    }
    std::string tmpl = (fs::temp_directory_path() / "vireo-config-test.XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override {
    for (const auto& [name, value] : saved_env_) setenv(name.c_str(), value.c_str(), 1);
    fs::remove_all(dir_);
  }

  std::string Write(const std::string& relative, const std::string& content) {
    fs::path path = fs::path(dir_) / relative;
    fs::create_directories(path.parent_path());
    std::ofstream(path) << content;
    return path.string();
  }

  // Loads `content` as the only file and returns the error message ("" on success).
  std::string ErrorOf(const std::string& content, const std::string& context = {}) {
    KubeconfigOptions options;
    options.explicit_path = Write("broken.yaml", content);
    options.context = context;
    Result<ClusterConfig> config = LoadKubeconfig(options);
    return config.ok() ? "" : config.status().message();
  }

  std::string dir_;
  std::map<std::string, std::string> saved_env_;
};

#define EXPECT_CONTAINS(haystack, needle) \
  EXPECT_NE(std::string(haystack).find(needle), std::string::npos) << (haystack)

TEST_F(ConfigTest, CurrentContextWithInlineCredentials) {
  KubeconfigOptions options;
  options.explicit_path = Write("config", kGood);
  Result<ClusterConfig> config = LoadKubeconfig(options);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, "https://10.0.0.1:6443");  // trailing slash dropped
  EXPECT_EQ(config->ca_pem, "CA-PEM");
  EXPECT_EQ(config->tls_server_name, "api.prod");
  EXPECT_FALSE(config->insecure_skip_tls_verify);
  EXPECT_EQ(config->client_cert_pem, "CERT-PEM");
  EXPECT_EQ(config->client_key_pem, "KEY-PEM");
  EXPECT_EQ(config->bearer_token, "");
  EXPECT_EQ(config->namespace_name, "vms");
  EXPECT_EQ(config->context_name, "prod-admin");
}

TEST_F(ConfigTest, ContextOverrideTokenInsecureAndDefaultNamespace) {
  KubeconfigOptions options;
  options.explicit_path = Write("config", kGood);
  options.context = "dev-bot";
  Result<ClusterConfig> config = LoadKubeconfig(options);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, "https://dev:443");
  EXPECT_TRUE(config->insecure_skip_tls_verify);
  EXPECT_EQ(config->ca_pem, "");
  EXPECT_EQ(config->bearer_token, "s3cret");
  EXPECT_EQ(config->token_file, "");
  EXPECT_EQ(config->client_cert_pem, "");
  EXPECT_EQ(config->namespace_name, "default");
  EXPECT_EQ(config->context_name, "dev-bot");
}

TEST_F(ConfigTest, ContextWithoutUserIsAnonymous) {
  Result<ClusterConfig> config = ParseKubeconfig(kGood, dir_, "dev-anonymous");
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->bearer_token, "");
  EXPECT_EQ(config->client_cert_pem, "");
}

TEST_F(ConfigTest, MissingCurrentContext) {
  std::string text = kGood;
  text.erase(text.find("current-context:"));
  std::string error = ErrorOf(text);
  EXPECT_CONTAINS(error, "broken.yaml");
  EXPECT_CONTAINS(error, "no current-context");
  EXPECT_CONTAINS(error, "--context");
  // The same file is fine once a context is chosen.
  EXPECT_EQ(ErrorOf(text, "dev-bot"), "");
}

TEST_F(ConfigTest, UndefinedContextUserAndCluster) {
  EXPECT_CONTAINS(ErrorOf(kGood, "nope"), "context \"nope\" is not defined");
  std::string text = std::string(kGood) + R"(- name: ghost-user
  context: {cluster: prod, user: ghost}
- name: ghost-cluster
  context: {cluster: nowhere, user: admin}
)";
  // Appending to `contexts` needs it last: move current-context before it.
  text.erase(text.find("current-context: prod-admin\n"), 28);
  std::string error = ErrorOf(text, "ghost-user");
  EXPECT_CONTAINS(error, "broken.yaml");
  EXPECT_CONTAINS(error, "context \"ghost-user\" names user \"ghost\", which is not defined");
  error = ErrorOf(text, "ghost-cluster");
  EXPECT_CONTAINS(error, "names cluster \"nowhere\", which is not defined");
}

TEST_F(ConfigTest, BadBase64NamesTheField) {
  std::string text = kGood;
  text.replace(text.find("Q0VSVC1QRU0="), 12, "not*base64!!");
  std::string error = ErrorOf(text);
  EXPECT_CONTAINS(error, "broken.yaml");
  EXPECT_CONTAINS(error, "user \"admin\"");
  EXPECT_CONTAINS(error, "\"client-certificate-data\" is not valid base64");
  // Padding in the middle is not base64 either.
  text = kGood;
  text.replace(text.find("Q0EtUEVN"), 8, "Q0==UEVN");
  EXPECT_CONTAINS(ErrorOf(text), "\"certificate-authority-data\" is not valid base64");
}

TEST_F(ConfigTest, Base64MayBeWrapped) {
  std::string text = kGood;
  text.replace(text.find("Q0EtUEVN"), 8, "|\n      Q0Et\n      UEVN");
  Result<ClusterConfig> config = ParseKubeconfig(text, dir_);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->ca_pem, "CA-PEM");
}

TEST_F(ConfigTest, UnreadableReferencedFile) {
  std::string text = kGood;
  text.replace(text.find("certificate-authority-data: Q0EtUEVN"), 36,
               "certificate-authority: missing/ca.crt");
  std::string error = ErrorOf(text);
  EXPECT_CONTAINS(error, "broken.yaml");
  EXPECT_CONTAINS(error, "cluster \"prod\"");
  EXPECT_CONTAINS(error, "cannot read \"certificate-authority\" " + dir_ + "/missing/ca.crt");
  EXPECT_CONTAINS(error, "No such file or directory");
}

TEST_F(ConfigTest, NotYamlEmptyAndNotAMapping) {
  std::string error = ErrorOf("clusters: [\n  - {name: a\n");
  EXPECT_CONTAINS(error, "broken.yaml is not valid YAML");
  EXPECT_CONTAINS(error, "line ");
  EXPECT_CONTAINS(ErrorOf(""), "broken.yaml is empty");
  EXPECT_CONTAINS(ErrorOf("\n  \n"), "is empty");
  EXPECT_CONTAINS(ErrorOf("just a string"), "its top level is a string, not a mapping");
  EXPECT_CONTAINS(ErrorOf("- a\n- b\n"), "its top level is a list");
}

TEST_F(ConfigTest, WrongTypes) {
  EXPECT_CONTAINS(ErrorOf("clusters: prod\ncurrent-context: x\n"),
                  "\"clusters\" must be a list, not a string");
  EXPECT_CONTAINS(ErrorOf("users:\n- name: u\n  user: [a, b]\n"),
                  "users[0] (\"u\"): \"user\" must be a mapping, not a list");
  EXPECT_CONTAINS(ErrorOf("contexts:\n- just-a-name\n"), "contexts[0] must be a mapping");
  EXPECT_CONTAINS(ErrorOf("contexts:\n- context: {cluster: a}\n"), "contexts[0] has no \"name\"");
  std::string text = kGood;
  text.replace(text.find("insecure-skip-tls-verify: true"), 30, "insecure-skip-tls-verify: maybe");
  std::string error = ErrorOf(text, "dev-bot");
  EXPECT_CONTAINS(error,
                  "cluster \"dev\": field \"insecure-skip-tls-verify\" must be true or false");
  text = kGood;
  text.replace(text.find("server: https://dev:443"), 23, "server: {url: x}");
  EXPECT_CONTAINS(ErrorOf(text, "dev-bot"), "field \"server\" must be a string, not a mapping");
  EXPECT_CONTAINS(ErrorOf("current-context: [a]\n"), "\"current-context\" must be a string");
}

TEST_F(ConfigTest, ServerIsRequiredAndNeedsAScheme) {
  std::string text = kGood;
  text.replace(text.find("server: https://dev:443"), 23, "server: dev:443");
  EXPECT_CONTAINS(ErrorOf(text, "dev-bot"), "must start with https://");
  text = kGood;
  text.replace(text.find("    server: https://dev:443\n"), 28, "");
  EXPECT_CONTAINS(ErrorOf(text, "dev-bot"), "cluster \"dev\" has no \"server\"");
}

TEST_F(ConfigTest, ConflictingAndUnsupportedCredentials) {
  std::string text = kGood;
  text.replace(text.find("    client-key-data: S0VZLVBFTQ==\n"), 34, "");
  EXPECT_CONTAINS(ErrorOf(text), "needs both \"client-certificate\" and \"client-key\"");

  text = kGood;
  text.replace(text.find("    client-key-data:"), 0, "    client-certificate: admin.crt\n");
  EXPECT_CONTAINS(ErrorOf(text), "both \"client-certificate\" and \"client-certificate-data\"");

  text = kGood;
  text.replace(text.find("    token: s3cret"), 17, "    exec: {command: aws}");
  EXPECT_CONTAINS(ErrorOf(text, "dev-bot"), "user \"bot\": \"exec\" is not supported");

  text = kGood;
  text.replace(text.find("    insecure-skip-tls-verify: true"), 0,
               "    certificate-authority-data: Q0EtUEVN\n");
  EXPECT_CONTAINS(ErrorOf(text, "dev-bot"), "\"insecure-skip-tls-verify\" cannot be combined");
}

TEST_F(ConfigTest, RelativePathsResolveAgainstTheirOwnFile) {
  Write("a/certs/ca.crt", "CA-FROM-A");
  Write("b/keys/client.crt", "CERT-FROM-B");
  Write("b/keys/client.key", "KEY-FROM-B");
  std::string a = Write("a/config", R"(
clusters:
- name: c
  cluster: {server: "https://a:6443", certificate-authority: certs/ca.crt}
contexts:
- name: ctx
  context: {cluster: c, user: u}
current-context: ctx
)");
  std::string b = Write("b/config", R"(
users:
- name: u
  user: {client-certificate: keys/client.crt, client-key: ./keys/../keys/client.key}
)");
  KubeconfigOptions options;
  options.kubeconfig_env = a + ":" + b;
  Result<ClusterConfig> config = LoadKubeconfig(options);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->ca_pem, "CA-FROM-A");
  EXPECT_EQ(config->client_cert_pem, "CERT-FROM-B");
  EXPECT_EQ(config->client_key_pem, "KEY-FROM-B");
}

TEST_F(ConfigTest, MergeFirstFileWins) {
  std::string first = Write("first", R"(
clusters:
- name: shared
  cluster: {server: "https://first:1"}
contexts:
- name: shared-ctx
  context: {cluster: shared, user: only-in-second}
)");
  std::string second = Write("second", R"(
clusters:
- name: shared
  cluster: {server: "https://second:2"}
users:
- name: only-in-second
  user: {token: from-second}
contexts:
- name: shared-ctx
  context: {cluster: shared, namespace: ignored}
current-context: shared-ctx
)");
  std::string third = Write("third", "current-context: not-me\n");
  KubeconfigOptions options;
  // Empty list elements and missing files are skipped, as kubectl does.
  options.kubeconfig_env = first + "::" + dir_ + "/does-not-exist:" + second + ":" + third;
  Result<ClusterConfig> config = LoadKubeconfig(options);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->context_name, "shared-ctx");   // the first file to set current-context
  EXPECT_EQ(config->server, "https://first:1");    // the first file to define "shared"
  EXPECT_EQ(config->bearer_token, "from-second");  // only the second defines the user
  EXPECT_EQ(config->namespace_name, "default");    // the first file's context has none
}

TEST_F(ConfigTest, EmptyFileInAListContributesNothing) {
  std::string empty = Write("empty", "");
  std::string good = Write("good", kGood);
  KubeconfigOptions options;
  options.kubeconfig_env = empty + ":" + good;
  Result<ClusterConfig> config = LoadKubeconfig(options);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->context_name, "prod-admin");
}

TEST_F(ConfigTest, NoFileAtAll) {
  KubeconfigOptions options;
  options.kubeconfig_env = dir_ + "/nope1:" + dir_ + "/nope2";
  Result<ClusterConfig> config = LoadKubeconfig(options);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), Code::kNotFound);
  EXPECT_CONTAINS(config.status().message(), dir_ + "/nope1, " + dir_ + "/nope2");

  options = {};
  options.explicit_path = dir_ + "/missing";
  config = LoadKubeconfig(options);
  ASSERT_FALSE(config.ok());
  EXPECT_CONTAINS(config.status().message(), dir_ + "/missing (--kubeconfig)");
}

TEST_F(ConfigTest, TokenFileIsReadTrimmedAndRemembered) {
  Write("tokens/bot", "  file-token\n");
  std::string text = kGood;
  text.replace(text.find("    token: s3cret"), 17, "    tokenFile: tokens/bot");
  std::string path = Write("config", text);
  KubeconfigOptions options;
  options.explicit_path = path;
  options.context = "dev-bot";
  Result<ClusterConfig> config = LoadKubeconfig(options);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->bearer_token, "file-token");
  EXPECT_EQ(config->token_file, dir_ + "/tokens/bot");

  // An inline token wins over the file, as in kubectl.
  text.replace(text.find("    tokenFile: tokens/bot"), 0, "    token: inline\n");
  options.explicit_path = Write("config2", text);
  config = LoadKubeconfig(options);
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->bearer_token, "inline");

  fs::remove(dir_ + "/tokens/bot");
  text = kGood;
  text.replace(text.find("    token: s3cret"), 17, "    tokenFile: tokens/bot");
  EXPECT_CONTAINS(ErrorOf(text, "dev-bot"), "cannot read \"tokenFile\" " + dir_ + "/tokens/bot");
}

TEST_F(ConfigTest, HomeFallbackAndDefaultOrder) {
  Write("home/.kube/config", kGood);
  KubeconfigOptions options;
  options.home = dir_ + "/home";
  Result<ClusterConfig> from_home = LoadDefaultConfig(options);
  ASSERT_TRUE(from_home.ok()) << from_home.status().ToString();
  EXPECT_EQ(from_home->context_name, "prod-admin");

  // $KUBECONFIG comes before home...
  std::string text = kGood;
  text.replace(text.find("current-context: prod-admin"), 27, "current-context: dev-bot");
  options.kubeconfig_env = Write("env-config", text);
  Result<ClusterConfig> from_env = LoadDefaultConfig(options);
  ASSERT_TRUE(from_env.ok()) << from_env.status().ToString();
  EXPECT_EQ(from_env->context_name, "dev-bot");

  // ...and --kubeconfig before both.
  options.explicit_path = Write("explicit", text + "\n");
  options.context = "dev-anonymous";
  Result<ClusterConfig> explicit_config = LoadDefaultConfig(options);
  ASSERT_TRUE(explicit_config.ok()) << explicit_config.status().ToString();
  EXPECT_EQ(explicit_config->context_name, "dev-anonymous");

  // In a pod (service env set) without a kubeconfig named, in-cluster wins
  // over home; here the service-account files are absent, which says so.
  setenv("KUBERNETES_SERVICE_HOST", "10.96.0.1", 1);
  setenv("KUBERNETES_SERVICE_PORT", "443", 1);
  KubeconfigOptions pod;
  pod.home = dir_ + "/home";
  Result<ClusterConfig> in_pod = LoadDefaultConfig(pod);
  if (fs::exists("/var/run/secrets/kubernetes.io/serviceaccount/token")) {
    EXPECT_TRUE(in_pod.ok()) << in_pod.status().ToString();
  } else {
    ASSERT_FALSE(in_pod.ok());
    EXPECT_CONTAINS(in_pod.status().message(), "service-account token");
  }
}

class InClusterTest : public ConfigTest {
 protected:
  InClusterEnv Env(const std::string& host, const std::string& port = "443") {
    InClusterEnv in;
    in.env = {{"KUBERNETES_SERVICE_HOST", host}, {"KUBERNETES_SERVICE_PORT", port}, {"X", "y"}};
    in.secrets_dir = dir_ + "/sa";
    return in;
  }
  void WriteSecrets() {
    Write("sa/token", "pod-token\n");
    Write("sa/ca.crt", "CLUSTER-CA");
    Write("sa/namespace", "tenant-a");
  }
};

TEST_F(InClusterTest, ReadsTheServiceAccountFiles) {
  WriteSecrets();
  Result<ClusterConfig> config = InClusterConfig(Env("10.96.0.1"));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, "https://10.96.0.1:443");
  EXPECT_EQ(config->bearer_token, "pod-token");
  EXPECT_EQ(config->token_file, dir_ + "/sa/token");
  EXPECT_EQ(config->ca_pem, "CLUSTER-CA");
  EXPECT_EQ(config->namespace_name, "tenant-a");
  EXPECT_FALSE(config->insecure_skip_tls_verify);
}

TEST_F(InClusterTest, Ipv6HostGetsBrackets) {
  WriteSecrets();
  Result<ClusterConfig> config = InClusterConfig(Env("fd00:10:96::1", "6443"));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->server, "https://[fd00:10:96::1]:6443");
}

TEST_F(InClusterTest, NamespaceFileIsOptional) {
  WriteSecrets();
  fs::remove(dir_ + "/sa/namespace");
  Result<ClusterConfig> config = InClusterConfig(Env("10.96.0.1"));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  EXPECT_EQ(config->namespace_name, "default");
}

TEST_F(InClusterTest, MissingEnvTokenOrCa) {
  WriteSecrets();
  InClusterEnv no_port = Env("10.96.0.1");
  no_port.env.erase("KUBERNETES_SERVICE_PORT");
  Result<ClusterConfig> config = InClusterConfig(no_port);
  ASSERT_FALSE(config.ok());
  EXPECT_CONTAINS(config.status().message(), "KUBERNETES_SERVICE_PORT");

  fs::remove(dir_ + "/sa/token");
  config = InClusterConfig(Env("10.96.0.1"));
  ASSERT_FALSE(config.ok());
  EXPECT_CONTAINS(config.status().message(), dir_ + "/sa/token");
  EXPECT_CONTAINS(config.status().message(), "automountServiceAccountToken");

  Write("sa/token", "\n");
  config = InClusterConfig(Env("10.96.0.1"));
  ASSERT_FALSE(config.ok());
  EXPECT_CONTAINS(config.status().message(), "is empty");

  Write("sa/token", "t");
  fs::remove(dir_ + "/sa/ca.crt");
  config = InClusterConfig(Env("10.96.0.1"));
  ASSERT_FALSE(config.ok());
  EXPECT_CONTAINS(config.status().message(), dir_ + "/sa/ca.crt");
}

}  // namespace
}  // namespace vireo::kube

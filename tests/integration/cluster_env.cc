// Starts or joins the T1 harness (apiserver.sh) and hands out clients for it.
#include "tests/integration/cluster_env.h"

#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "lib/kube/config.h"

namespace vireo::testing {
namespace {

std::string HarnessScript() {
  // Meson runs tests from the build directory; the source root is baked in.
  return std::string(VIREO_SOURCE_ROOT) + "/tests/integration/apiserver.sh";
}

std::string ReadEnvValue(const std::string& file, const std::string& key) {
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + "=", 0) == 0) return line.substr(key.size() + 1);
  }
  return "";
}

std::string Trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

[[noreturn]] void Fail(const std::string& what) {
  std::cerr << "T1 harness: " << what << std::endl;
  std::exit(2);
}

}  // namespace

int RunCommand(const std::string& command, std::string* output) {
  std::string full = command + " 2>&1";
  FILE* pipe = popen(full.c_str(), "r");
  if (pipe == nullptr) return -1;
  std::array<char, 4096> buf;
  std::string out;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  int status = pclose(pipe);
  if (output != nullptr) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

ClusterEnv& ClusterEnv::Get() {
  // Destroyed at exit, which stops a harness this process started.
  static ClusterEnv env;
  static const bool started = (env.Start(), true);
  (void)started;
  return env;
}

void ClusterEnv::Start() {
  const char* shared = std::getenv("VIREO_TEST_CLUSTER_DIR");
  if (shared != nullptr && *shared != '\0') {
    dir_ = shared;
  } else {
    char tmpl[] = "/tmp/vireo-t1-own.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) Fail("mkdtemp failed");
    dir_ = tmpl;
    owned_ = true;
    std::string out;
    if (RunCommand(HarnessScript() + " start " + dir_, &out) != 0) {
      Fail("starting the apiserver failed:\n" + out);
    }
  }
  bin_dir_ = ReadEnvValue(dir_ + "/env", "BIN");
  std::string port = ReadEnvValue(dir_ + "/env", "APISERVER_PORT");
  if (bin_dir_.empty() || port.empty()) Fail("no running harness in " + dir_);
  apiserver_port_ = std::stoi(port);
}

ClusterEnv::~ClusterEnv() {
  if (owned_) {
    std::string out;
    RunCommand(HarnessScript() + " stop " + dir_, &out);
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
}

std::string ClusterEnv::Harness(const std::string& args) const {
  std::string out;
  if (RunCommand(HarnessScript() + " " + args + " " + dir_, &out) != 0) {
    Fail("apiserver.sh " + args + " failed:\n" + out);
  }
  return Trim(out);
}

void ClusterEnv::RestartApiserver() const { Harness("restart-apiserver"); }
void ClusterEnv::CompactEtcd() const { Harness("compact"); }

std::unique_ptr<kube::Client> ClusterEnv::AdminClient(const kube::ClientOptions& options) const {
  kube::KubeconfigOptions ko;
  ko.explicit_path = kubeconfig();
  auto config = kube::LoadKubeconfig(ko);
  if (!config.ok()) Fail("admin kubeconfig: " + config.status().ToString());
  auto client = kube::Client::Create(*config, options);
  if (!client.ok()) Fail("admin client: " + client.status().ToString());
  return std::move(client).value();
}

std::unique_ptr<kube::Client> ClusterEnv::ClientFor(const std::string& ns,
                                                    const std::string& service_account) const {
  std::string token;
  std::string cmd = HarnessScript() + " token " + dir_ + " " + ns + " " + service_account;
  if (RunCommand(cmd + " 2>/dev/null", &token) != 0)
    Fail("token for " + ns + "/" + service_account);
  kube::KubeconfigOptions ko;
  ko.explicit_path = kubeconfig();
  auto config = kube::LoadKubeconfig(ko);
  if (!config.ok()) Fail("admin kubeconfig: " + config.status().ToString());
  config->client_cert_pem.clear();
  config->client_key_pem.clear();
  config->bearer_token = Trim(token);
  auto client = kube::Client::Create(*config);
  if (!client.ok()) Fail("service-account client: " + client.status().ToString());
  return std::move(client).value();
}

std::string ClusterEnv::CreateNamespace(const std::string& hint) {
  std::string name;
  for (char c : hint) {
    name += std::isalnum(static_cast<unsigned char>(c))
                ? static_cast<char>(std::tolower(static_cast<unsigned char>(c)))
                : '-';
  }
  if (name.size() > 40) name.resize(40);
  name += "-" + std::to_string(getpid()) + "-" + std::to_string(++namespaces_);
  auto client = AdminClient();
  base::Json ns = base::Json::object();
  ns["apiVersion"] = base::Json("v1");
  ns["kind"] = base::Json("Namespace");
  ns["metadata"]["name"] = base::Json(name);
  auto created = client->Create(kube::resources::kNamespaces, "", ns);
  if (!created.ok()) Fail("create namespace " + name + ": " + created.status().ToString());
  // Pods need the namespace's "default" service account, which
  // kube-controller-manager creates a moment later.
  for (int i = 0; i < 200; ++i) {
    if (client->Get(kube::resources::kServiceAccounts, name, "default").ok()) return name;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  Fail("namespace " + name + " got no default service account in 20 s");
}

int ClusterEnv::Kubectl(const std::string& args, std::string* output) const {
  return RunCommand(bin_dir_ + "/kubectl --kubeconfig=" + kubeconfig() + " " + args, output);
}

}  // namespace vireo::testing

// The real etcd + kube-apiserver every T1 test talks to. hack/test.sh starts
// one harness for the whole run (VIREO_TEST_CLUSTER_DIR); a test binary run
// by hand starts its own through apiserver.sh and stops it when it exits.
#pragma once

#include <memory>
#include <string>

#include "lib/kube/client.h"

namespace vireo::testing {

class ClusterEnv {
 public:
  // The process-wide harness, started on first use. Aborts the test binary
  // with the harness's message when it cannot start: nothing else can run.
  static ClusterEnv& Get();

  const std::string& dir() const { return dir_; }
  std::string kubeconfig() const { return dir_ + "/kubeconfig"; }
  // The directory holding kubectl, kube-apiserver, etcd, ...
  const std::string& bin_dir() const { return bin_dir_; }
  int apiserver_port() const { return apiserver_port_; }

  // A cluster-admin client.
  std::unique_ptr<kube::Client> AdminClient(const kube::ClientOptions& options = {}) const;
  // A client that authenticates with a service account's token.
  std::unique_ptr<kube::Client> ClientFor(const std::string& ns,
                                          const std::string& service_account) const;

  // A fresh namespace for one test, named after it; deleted at the end of the run
  // together with the harness.
  std::string CreateNamespace(const std::string& hint);

  // Runs kubectl with the admin kubeconfig; returns its exit code and fills
  // output with stdout+stderr.
  int Kubectl(const std::string& args, std::string* output) const;

  // Harness controls (apiserver.sh).
  void RestartApiserver() const;
  void CompactEtcd() const;

  ~ClusterEnv();

 private:
  ClusterEnv() = default;
  void Start();
  std::string Harness(const std::string& args) const;

  std::string dir_;
  std::string bin_dir_;
  int apiserver_port_ = 0;
  bool owned_ = false;  // started by this process, stopped by it
  int namespaces_ = 0;
};

// Runs a shell command, returning its exit code; output gets stdout+stderr.
int RunCommand(const std::string& command, std::string* output);

}  // namespace vireo::testing

// Creation expectations; see expectations.h.
#include "controllers/expectations.h"

namespace vireo::controllers {

Expectations::Expectations(base::Clock::Duration ttl, const base::Clock* clock)
    : ttl_(ttl), clock_(clock != nullptr ? clock : base::Clock::Real()) {}

void Expectations::ExpectCreate(const ObjectRef& owner, const ObjectRef& child) {
  std::lock_guard l(mu_);
  Pending& p = by_owner_[owner];
  if (p.children.empty()) p.since = clock_->Now();
  p.children.insert(child);
  owner_of_[child] = owner;
}

void Expectations::CreateFailed(const ObjectRef& owner, const ObjectRef& child) {
  std::lock_guard l(mu_);
  auto it = by_owner_.find(owner);
  if (it != by_owner_.end()) {
    it->second.children.erase(child);
    if (it->second.children.empty()) by_owner_.erase(it);
  }
  auto o = owner_of_.find(child);
  if (o != owner_of_.end() && o->second == owner) owner_of_.erase(o);
}

std::optional<ObjectRef> Expectations::Observed(const ObjectRef& child) {
  std::lock_guard l(mu_);
  auto o = owner_of_.find(child);
  if (o == owner_of_.end()) return std::nullopt;
  ObjectRef owner = o->second;
  owner_of_.erase(o);
  auto it = by_owner_.find(owner);
  if (it != by_owner_.end()) {
    it->second.children.erase(child);
    if (it->second.children.empty()) by_owner_.erase(it);
  }
  return owner;
}

bool Expectations::Satisfied(const ObjectRef& owner) {
  std::lock_guard l(mu_);
  auto it = by_owner_.find(owner);
  if (it == by_owner_.end()) return true;
  if (clock_->Now() - it->second.since < ttl_) return false;
  for (const ObjectRef& child : it->second.children) owner_of_.erase(child);
  by_owner_.erase(it);
  return true;
}

void Expectations::Forget(const ObjectRef& owner) {
  std::lock_guard l(mu_);
  auto it = by_owner_.find(owner);
  if (it == by_owner_.end()) return;
  for (const ObjectRef& child : it->second.children) owner_of_.erase(child);
  by_owner_.erase(it);
}

size_t Expectations::pending() const {
  std::lock_guard l(mu_);
  return owner_of_.size();
}

WrittenVersions::WrittenVersions(base::Clock::Duration ttl, const base::Clock* clock)
    : ttl_(ttl), clock_(clock != nullptr ? clock : base::Clock::Real()) {}

void WrittenVersions::Wrote(const ObjectRef& object, const std::string& replaced_version) {
  std::lock_guard l(mu_);
  Written& w = written_[object];
  w.replaced.insert(replaced_version);
  w.at = clock_->Now();
}

bool WrittenVersions::IsStale(const ObjectRef& object, const std::string& cached_version) {
  std::lock_guard l(mu_);
  auto it = written_.find(object);
  if (it == written_.end()) return false;
  if (it->second.replaced.contains(cached_version) && clock_->Now() - it->second.at < ttl_) {
    return true;
  }
  written_.erase(it);
  return false;
}

void WrittenVersions::Forget(const ObjectRef& object) {
  std::lock_guard l(mu_);
  written_.erase(object);
}

}  // namespace vireo::controllers

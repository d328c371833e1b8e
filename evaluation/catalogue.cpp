#include "evaluation/catalogue.hpp"

namespace lantian::evaluation {

CurrentCatalogue::CurrentCatalogue(Catalogue initial)
    : current_(std::make_shared<const Catalogue>(std::move(initial))) {}

CatalogueSnapshot CurrentCatalogue::snapshot() const {
  std::lock_guard lock(mutex_);
  return current_;
}

void CurrentCatalogue::replace(Catalogue next) {
  auto snapshot = std::make_shared<const Catalogue>(std::move(next));
  std::lock_guard lock(mutex_);
  current_.swap(snapshot);
  // The previous snapshot is released after the lock: its last reader may be elsewhere.
}

}  // namespace lantian::evaluation

//! hookfeed worker

//! hookfeed web

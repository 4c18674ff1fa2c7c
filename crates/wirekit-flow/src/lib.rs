//! Flow metering: the flow table, timeouts and expiry, sans-IO.

//! What every request passes through, whoever it is for: accepting connections (`serve`), the
//! edge layer (`middleware`: request id, client address, CORS (`cors`), envelope safety net)
//! and its access record (`access`), the route class's limits and metrics (`measure`, `limit`), the database
//! gate (`db_gate`) and the deadline of routes that wait (`deadline`).

pub mod access;
pub mod client_ip;
pub mod cors;
pub mod db_gate;
pub mod deadline;
pub mod limit;
pub mod measure;
pub mod middleware;
pub mod serve;

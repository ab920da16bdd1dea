//! What is learnt about the request being served, wherever it is learnt (the route template by
//! the per-route layer, the publisher by the catalog, the request id by the edge), for its
//! access record and for the log lines written while serving it. A task-local set by the edge.

use std::cell::{Cell, RefCell};
use std::sync::Arc;

use axum::http::HeaderValue;

use crate::domain::PublisherId;

tokio::task_local! {
    static NOTE: Note;
}

/// What the layers inside the edge learn about a request, for its access record.
#[derive(Default)]
pub struct Note {
    route: RefCell<Option<Arc<str>>>,
    publisher: Cell<Option<PublisherId>>,
    request_id: RefCell<Option<HeaderValue>>,
}

impl Note {
    /// A note for a request with this id.
    pub fn new(request_id: HeaderValue) -> Note {
        Note {
            request_id: RefCell::new(Some(request_id)),
            ..Note::default()
        }
    }

    /// The route template and the publisher, once the request is answered.
    pub fn into_parts(self) -> (Option<Arc<str>>, Option<PublisherId>) {
        (self.route.into_inner(), self.publisher.get())
    }

    /// Runs `f` inside the note's scope (the edge wraps each request's future).
    pub fn scope<F: Future>(self, f: F) -> tokio::task::futures::TaskLocalFuture<Note, F> {
        NOTE.scope(self, f)
    }
}

/// The route template of the request being served (set by the per-route layer).
pub fn note_route(route: &Arc<str>) {
    let _ = NOTE.try_with(|n| *n.route.borrow_mut() = Some(route.clone()));
}

/// The publisher the request turned out to be for: only an existing one (the catalog calls
/// this when it found it), so the `publisher` label of the counters stays bounded.
pub fn note_publisher(id: PublisherId) {
    let _ = NOTE.try_with(|n| n.publisher.set(Some(id)));
}

/// The id of the request being served, for log lines written while serving it ("" outside).
pub fn request_id() -> String {
    NOTE.try_with(|n| {
        n.request_id
            .borrow()
            .as_ref()
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    })
    .unwrap_or_default()
}

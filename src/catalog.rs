//! Publishers and their current consents, served from memory for a short TTL: they are read
//! on every page view of every frontend, and a new version must reach every replica quickly.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::domain::{OfferId, PublisherId};
use crate::store::{ConsentVersion, Publisher, Store, StoreError};

/// Beyond this many cached publishers (known or not), expired entries are dropped, so a flood
/// of random ids cannot grow memory without bound.
const MAX_ENTRIES: usize = 10_000;

/// A publisher with the consents its customers are asked for, as of `fetched`.
#[derive(Debug)]
pub struct PublisherView {
    /// The publisher.
    pub publisher: Publisher,
    /// The platform's and the publisher's current consents.
    pub consents: Vec<ConsentVersion>,
    /// The rendered `GET /publishers/{id}/consents` body, made once per view.
    pub rendered: OnceLock<Bytes>,
}

struct Entry {
    fetched: Instant,
    view: Option<Arc<PublisherView>>,
}

/// The cache in front of the store for publishers, their consents and CORS origins.
pub struct Catalog {
    store: Arc<dyn Store>,
    ttl: Duration,
    entries: RwLock<HashMap<PublisherId, Entry>>,
    offers: RwLock<HashMap<OfferId, (Instant, Option<PublisherId>)>>,
    origins: RwLock<Arc<HashSet<String>>>,
}

impl Catalog {
    /// An empty cache over `store`.
    pub fn new(store: Arc<dyn Store>, ttl: Duration) -> Self {
        Catalog {
            store,
            ttl,
            entries: RwLock::new(HashMap::new()),
            offers: RwLock::new(HashMap::new()),
            origins: RwLock::new(Arc::new(HashSet::new())),
        }
    }

    /// The publisher and its current consents; `None` when it does not exist (also cached).
    pub async fn publisher(
        &self,
        id: PublisherId,
    ) -> Result<Option<Arc<PublisherView>>, StoreError> {
        if let Ok(entries) = self.entries.read()
            && let Some(e) = entries.get(&id).filter(|e| e.fetched.elapsed() < self.ttl)
        {
            if e.view.is_some() {
                crate::telemetry::note::note_publisher(id);
            }
            return Ok(e.view.clone());
        }
        let view = match self.store.publisher(id).await? {
            Some(publisher) => Some(Arc::new(PublisherView {
                consents: self.store.current_consents(id).await?,
                publisher,
                rendered: OnceLock::new(),
            })),
            None => None,
        };
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= MAX_ENTRIES {
                let ttl = self.ttl;
                entries.retain(|_, e| e.fetched.elapsed() < ttl);
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
            }
            entries.insert(
                id,
                Entry {
                    fetched: Instant::now(),
                    view: view.clone(),
                },
            );
        }
        if view.is_some() {
            crate::telemetry::note::note_publisher(id);
        }
        Ok(view)
    }

    /// The publisher an offer belongs to (unknown offers are cached too).
    pub async fn offer_publisher(
        &self,
        offer: &OfferId,
    ) -> Result<Option<PublisherId>, StoreError> {
        if let Ok(offers) = self.offers.read()
            && let Some((_, p)) = offers.get(offer).filter(|(at, _)| at.elapsed() < self.ttl)
        {
            if let Some(p) = p {
                crate::telemetry::note::note_publisher(*p);
            }
            return Ok(*p);
        }
        let publisher = self.store.offer_publisher(offer).await?;
        if let Ok(mut offers) = self.offers.write() {
            if offers.len() >= MAX_ENTRIES {
                let ttl = self.ttl;
                offers.retain(|_, (at, _)| at.elapsed() < ttl);
                if offers.len() >= MAX_ENTRIES {
                    offers.clear();
                }
            }
            offers.insert(offer.clone(), (Instant::now(), publisher));
        }
        if let Some(p) = publisher {
            crate::telemetry::note::note_publisher(p);
        }
        Ok(publisher)
    }

    /// Forgets a publisher, so the next read goes to the store (it is known to be stale).
    pub fn invalidate(&self, id: PublisherId) {
        if let Ok(mut entries) = self.entries.write() {
            entries.remove(&id);
        }
    }

    /// Forgets what is known of these offers (a new publisher's offers were cached as unknown).
    pub fn invalidate_offers(&self, offers: &[OfferId]) {
        if let Ok(mut cached) = self.offers.write() {
            for offer in offers {
                cached.remove(offer);
            }
        }
    }

    /// Whether a browser origin is configured by any publisher (CORS).
    pub fn allows_origin(&self, origin: &str) -> bool {
        self.origins
            .read()
            .map(|o| o.contains(origin))
            .unwrap_or(false)
    }

    /// Reloads the union of the publishers' CORS origins.
    pub async fn refresh_origins(&self) -> Result<(), StoreError> {
        let publishers = self.store.publishers().await?;
        let origins: HashSet<String> = publishers
            .into_iter()
            .flat_map(|p| p.settings.cors_origins)
            .map(|o| o.trim_end_matches('/').to_owned())
            .collect();
        if let Ok(mut current) = self.origins.write() {
            *current = Arc::new(origins);
        }
        Ok(())
    }

    /// Keeps the CORS origins fresh every TTL until the catalog is dropped.
    pub fn spawn_refresh(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        let ttl = self.ttl;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(ttl).await;
                let Some(catalog) = weak.upgrade() else { break };
                if let Err(e) = catalog.refresh_origins().await {
                    tracing::warn!(error = %e, "could not reload CORS origins; keeping the previous ones");
                }
            }
        });
    }
}

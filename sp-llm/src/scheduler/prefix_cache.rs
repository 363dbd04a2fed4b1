//! KV prefixes kept in host RAM after their slot was given to another prompt: when a later
//! request shares one, its state is restored into a free slot instead of prefilled again.
//!
//! Entries are partitioned by cache scope (a tenant, see `Sampling::cache_scope`): a lookup
//! sees only its own scope's entries, so a prefix is never reused — nor its hit timed —
//! across tenants. An entry holds its exact tokens and is chosen by comparing them with the
//! prompt, so a restore can never bring back content that differs from what the prompt says
//! (there is no hash to collide). The cache is bounded in bytes and forgets the least
//! recently used entry first. It is one engine's, so every entry is of that model and
//! context shape.

use std::sync::Arc;

use llama_cpp_2::context::session::SeqState;
use llama_cpp_2::token::LlamaToken;

/// A saved sequence state: its size counts against the cache's bound.
pub(crate) trait Snapshot {
    fn byte_len(&self) -> usize;
}

impl Snapshot for SeqState {
    fn byte_len(&self) -> usize {
        SeqState::byte_len(self)
    }
}

/// One kept prefix.
pub(crate) struct Entry<S> {
    pub scope: Arc<str>,
    /// Whose state it is within the scope (see `Job::owner`).
    pub owner: Option<Arc<str>>,
    pub tokens: Vec<LlamaToken>,
    pub state: S,
    last_used: u64,
}

/// The prefixes, most bytes `limit` (0 keeps none).
pub(crate) struct PrefixCache<S> {
    limit: usize,
    bytes: usize,
    clock: u64,
    entries: Vec<Entry<S>>,
}

impl<S: Snapshot> PrefixCache<S> {
    pub(crate) fn new(limit: usize) -> Self {
        PrefixCache {
            limit,
            bytes: 0,
            clock: 0,
            entries: Vec::new(),
        }
    }

    /// Whether it keeps anything at all.
    pub(crate) fn enabled(&self) -> bool {
        self.limit > 0
    }

    /// Bytes held.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// Entries held.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether `scope` already holds `tokens` (or a longer run of tokens that begins with
    /// them): saving them again would keep nothing new.
    pub(crate) fn covers(&mut self, scope: &str, tokens: &[LlamaToken]) -> bool {
        self.clock += 1;
        let clock = self.clock;
        match self
            .entries
            .iter_mut()
            .find(|e| &*e.scope == scope && e.tokens.starts_with(tokens))
        {
            Some(entry) => {
                entry.last_used = clock;
                true
            }
            None => false,
        }
    }

    /// Keeps `state`, the cache of `tokens` in `scope`. Entries of the scope whose tokens
    /// begin these go (this one serves every prompt they served); then the least recently
    /// used, until the bound holds. A state larger than the whole bound is not kept.
    pub(crate) fn insert(
        &mut self,
        scope: Arc<str>,
        owner: Option<Arc<str>>,
        tokens: Vec<LlamaToken>,
        state: S,
    ) {
        let size = state.byte_len();
        if size > self.limit || tokens.is_empty() || self.covers(&scope, &tokens) {
            return;
        }
        let mut freed = 0;
        self.entries.retain(|e| {
            let superseded = e.scope == scope && tokens.starts_with(&e.tokens);
            if superseded {
                freed += e.state.byte_len();
            }
            !superseded
        });
        self.bytes -= freed;
        while self.bytes + size > self.limit {
            let Some(oldest) = self
                .entries
                .iter()
                .enumerate()
                .min_by_key(|(_, e)| e.last_used)
                .map(|(i, _)| i)
            else {
                break;
            };
            let gone = self.entries.swap_remove(oldest);
            self.bytes -= gone.state.byte_len();
        }
        self.clock += 1;
        self.bytes += size;
        self.entries.push(Entry {
            scope,
            owner,
            tokens,
            state,
            last_used: self.clock,
        });
    }

    /// Drops the entries of `owner` in `scope` (it was deleted).
    pub(crate) fn forget(&mut self, scope: &str, owner: &str) {
        let mut freed = 0;
        self.entries.retain(|e| {
            let gone = &*e.scope == scope && e.owner.as_deref() == Some(owner);
            if gone {
                freed += e.state.byte_len();
            }
            !gone
        });
        self.bytes -= freed;
    }

    /// The entry of `scope` sharing the longest prefix with `prompt`, when it shares more
    /// than `at_least` tokens, with that length; marked used.
    pub(crate) fn best(
        &mut self,
        scope: &str,
        prompt: &[LlamaToken],
        at_least: usize,
    ) -> Option<(usize, &Entry<S>)> {
        let (index, shared) = longest_in_scope(
            self.entries
                .iter()
                .map(|e| (&*e.scope, e.tokens.as_slice())),
            scope,
            prompt,
            at_least,
        )?;
        self.clock += 1;
        let entry = &mut self.entries[index];
        entry.last_used = self.clock;
        Some((shared, entry))
    }
}

/// Of `entries` (scope, tokens), the one of `scope` sharing the longest prefix with `prompt`,
/// more than `at_least` tokens: its position and the tokens shared. Never another scope's:
/// the one rule both the RAM and the disk caches follow.
pub(crate) fn longest_in_scope<'a>(
    entries: impl Iterator<Item = (&'a str, &'a [LlamaToken])>,
    scope: &str,
    prompt: &[LlamaToken],
    at_least: usize,
) -> Option<(usize, usize)> {
    entries
        .enumerate()
        .filter(|(_, (entry_scope, _))| *entry_scope == scope)
        .map(|(i, (_, tokens))| (i, common_prefix(tokens, prompt)))
        .filter(|(_, shared)| *shared > at_least)
        .max_by_key(|(_, shared)| *shared)
}

/// How many leading tokens `a` and `b` share.
pub(crate) fn common_prefix(a: &[LlamaToken], b: &[LlamaToken]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Bytes(usize);

    impl Snapshot for Bytes {
        fn byte_len(&self) -> usize {
            self.0
        }
    }

    fn tokens(ids: &[i32]) -> Vec<LlamaToken> {
        ids.iter().copied().map(LlamaToken).collect()
    }

    #[test]
    fn a_lookup_finds_the_longest_shared_prefix_of_its_own_scope_only() {
        let mut cache = PrefixCache::new(1000);
        cache.insert("a".into(), None, tokens(&[1, 2, 3, 4]), Bytes(10));
        cache.insert("a".into(), None, tokens(&[1, 2, 9]), Bytes(10));
        cache.insert("b".into(), None, tokens(&[1, 2, 3, 4, 5, 6]), Bytes(10));
        let (shared, entry) = cache.best("a", &tokens(&[1, 2, 3, 7]), 0).expect("hit");
        assert_eq!((shared, entry.tokens.len()), (3, 4));
        assert!(cache.best("a", &tokens(&[1, 2, 3, 7]), 3).is_none());
        assert!(cache.best("c", &tokens(&[1, 2, 3, 4]), 0).is_none());
        let (shared, entry) = cache.best("b", &tokens(&[1, 2, 3, 4, 5]), 0).expect("hit");
        assert_eq!((shared, &*entry.scope), (5, "b"));
        assert!(cache.best("a", &tokens(&[8]), 0).is_none());
    }

    #[test]
    fn a_longer_prefix_supersedes_the_shorter_and_a_covered_one_is_not_kept_twice() {
        let mut cache = PrefixCache::new(1000);
        cache.insert("a".into(), None, tokens(&[1, 2]), Bytes(10));
        cache.insert("a".into(), None, tokens(&[1, 2, 3]), Bytes(20));
        assert_eq!((cache.len(), cache.bytes()), (1, 20));
        cache.insert("a".into(), None, tokens(&[1, 2]), Bytes(10));
        assert_eq!((cache.len(), cache.bytes()), (1, 20));
        // Another tenant's identical prefix is its own entry.
        cache.insert("b".into(), None, tokens(&[1, 2]), Bytes(10));
        assert_eq!((cache.len(), cache.bytes()), (2, 30));
    }

    #[test]
    fn the_bound_forgets_the_least_recently_used_and_refuses_what_cannot_fit() {
        let mut cache = PrefixCache::new(30);
        cache.insert("a".into(), None, tokens(&[1]), Bytes(10));
        cache.insert("a".into(), None, tokens(&[2]), Bytes(10));
        cache.insert("a".into(), None, tokens(&[3]), Bytes(10));
        // Using [1] makes [2] the oldest.
        assert!(cache.best("a", &tokens(&[1]), 0).is_some());
        cache.insert("a".into(), None, tokens(&[4]), Bytes(10));
        assert_eq!((cache.len(), cache.bytes()), (3, 30));
        assert!(cache.best("a", &tokens(&[2]), 0).is_none());
        assert!(cache.best("a", &tokens(&[1]), 0).is_some());
        cache.insert("a".into(), None, tokens(&[5]), Bytes(31));
        assert!(cache.best("a", &tokens(&[5]), 0).is_none());
        assert_eq!(cache.bytes(), 30);
        let mut off = PrefixCache::new(0);
        off.insert("a".into(), None, tokens(&[1]), Bytes(1));
        assert!(!off.enabled() && off.len() == 0);
    }

    #[test]
    fn forgetting_an_owner_drops_its_entries_in_its_scope_only() {
        let mut cache = PrefixCache::new(1000);
        let owner = |o: &str| Some(Arc::<str>::from(o));
        cache.insert("a".into(), owner("x"), tokens(&[1]), Bytes(10));
        cache.insert("a".into(), owner("y"), tokens(&[2]), Bytes(10));
        cache.insert("b".into(), owner("x"), tokens(&[3]), Bytes(10));
        cache.insert("a".into(), None, tokens(&[4]), Bytes(10));
        cache.forget("a", "x");
        assert_eq!((cache.len(), cache.bytes()), (3, 30));
        assert!(cache.best("a", &tokens(&[1]), 0).is_none());
        assert!(cache.best("a", &tokens(&[2]), 0).is_some());
        assert!(cache.best("b", &tokens(&[3]), 0).is_some());
    }
}

//! One memory budget for the message bodies all sessions of a server hold
//! at once (issue 16): without it, 1,024 connections each in the middle of
//! a 40 MB DATA could hold 40 GB.
//!
//! Why a budget and `452` rather than spooling bodies to temporary files:
//! the mock checks a message's headers and writes it to the mailbox from
//! memory, and the test API keeps it; a spool would add a disk write and a
//! read to every message for the rare case of many large bodies at once.
//! `452` (RFC 5321 4.2.2: insufficient system storage) is the reply SMTP
//! has for this, and every client treats it as "try again later".

use std::sync::atomic::{AtomicUsize, Ordering};

/// The octets of body memory all sessions may hold together.
#[derive(Debug)]
pub struct BodyBudget {
    limit: usize,
    used: AtomicUsize,
}

impl BodyBudget {
    /// A budget of `limit` octets.
    pub fn new(limit: usize) -> BodyBudget {
        BodyBudget {
            limit,
            used: AtomicUsize::new(0),
        }
    }

    /// The limit, in octets.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Octets held right now.
    pub fn in_use(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    fn take(&self, n: usize) -> bool {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |u| {
                u.checked_add(n).filter(|t| *t <= self.limit)
            })
            .is_ok()
    }

    fn give_back(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::AcqRel);
    }
}

/// One body's buffer, its memory taken from a [`BodyBudget`] as it grows
/// (by capacity, so what is counted is what is allocated) and given back
/// when it is dropped, whatever way the session ends.
pub struct HeldBody<'a> {
    budget: &'a BodyBudget,
    body: Vec<u8>,
    /// Octets taken from the budget for this body.
    counted: usize,
}

impl<'a> HeldBody<'a> {
    /// An empty body.
    pub fn new(budget: &'a BodyBudget) -> HeldBody<'a> {
        HeldBody {
            budget,
            body: Vec::new(),
            counted: 0,
        }
    }

    /// Appends `chunk` if the budget has room (growing by doubling up to
    /// `cap`, else by exactly what is needed); false, and nothing changed,
    /// when it has not.
    pub fn extend(&mut self, chunk: &[u8], cap: usize) -> bool {
        let needed = self.body.len() + chunk.len();
        if needed > self.counted {
            let doubled = (self.counted * 2).clamp(needed, cap.max(needed));
            let grown = [doubled, needed]
                .into_iter()
                .find(|want| self.budget.take(want - self.counted));
            let Some(want) = grown else {
                return false;
            };
            self.body.reserve_exact(want - self.body.len());
            self.counted = want;
        }
        self.body.extend_from_slice(chunk);
        true
    }

    /// The body so far.
    pub fn as_slice(&self) -> &[u8] {
        &self.body
    }

    /// Drops the content and gives its memory back.
    pub fn clear(&mut self) {
        self.budget.give_back(std::mem::take(&mut self.counted));
        self.body = Vec::new();
    }

    /// The body, to hand on while this keeps its memory counted (until it
    /// is dropped).
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.body)
    }
}

impl Drop for HeldBody<'_> {
    fn drop(&mut self) {
        self.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_share_the_budget_and_give_it_back() {
        let budget = BodyBudget::new(100);
        let mut a = HeldBody::new(&budget);
        assert!(a.extend(&[1; 30], usize::MAX));
        assert!(a.extend(&[2; 30], usize::MAX));
        assert_eq!(budget.in_use(), 60);
        let mut b = HeldBody::new(&budget);
        assert!(!b.extend(&[3; 50], usize::MAX), "no room beside a");
        assert_eq!(b.as_slice(), b"");
        drop(a);
        assert_eq!(budget.in_use(), 0);
        assert!(b.extend(&[3; 50], usize::MAX));
        let body = b.take();
        assert_eq!(body.len(), 50);
        assert_eq!(budget.in_use(), 50, "still counted until dropped");
        drop(b);
        assert_eq!(budget.in_use(), 0);
    }
}

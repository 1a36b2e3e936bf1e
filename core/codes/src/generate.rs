//! Code generation: uniform draws over exactly the codes a [`CheckContext`]
//! allows.
//!
//! The sampler first tries rejection sampling (a uniform draw over all codes of
//! the length, kept if the policy allows it), which is exactly uniform over the
//! allowed set and fast while most codes are allowed. After
//! [`REJECTION_ATTEMPTS`] misses it enumerates the whole space, so it knows the
//! exact set of allowed codes: it draws uniformly from it, or reports
//! [`GenerateError::Exhausted`] when it is empty. Exhaustion is computed, never
//! guessed from a run of misses.
//!
//! The random source is a parameter. Production uses [`secure_rng`], a ChaCha
//! generator keyed afresh from the operating system's CSPRNG; tests pass a
//! seeded generator to check the statistics.

use std::collections::HashSet;

use rand::rngs::{StdRng, SysRng};
use rand::{Rng, RngExt, SeedableRng};

use crate::code::{Code, Origin};
use crate::policy::{CheckContext, Rejection};

/// Draws tried before the sampler falls back to enumerating the space.
pub const REJECTION_ATTEMPTS: u32 = 64;

/// Why no code could be generated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GenerateError {
    /// Fewer codes are allowed in this context than were asked for.
    #[error("no code is left: {available} code(s) are allowed here and {requested} were asked for")]
    Exhausted {
        /// How many distinct codes the context allows.
        available: u64,
        /// How many were asked for.
        requested: usize,
    },
    /// The asked length is not allowed for this kind of code.
    #[error(transparent)]
    Rejected(#[from] Rejection),
    /// The operating system's random source failed.
    #[error("the system's random number source is unavailable: {0}")]
    Entropy(String),
}

impl GenerateError {
    /// The stable machine code: `exhausted`, `policy_violation` or `entropy_unavailable`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Exhausted { .. } => "exhausted",
            Self::Rejected(_) => Rejection::CODE,
            Self::Entropy(_) => "entropy_unavailable",
        }
    }
}

/// A CSPRNG keyed with 256 bits from the operating system's random source.
pub fn secure_rng() -> Result<StdRng, GenerateError> {
    StdRng::try_from_rng(&mut SysRng).map_err(|e| GenerateError::Entropy(e.to_string()))
}

/// Generates one code allowed in `ctx`, uniformly at random.
pub fn generate<R: Rng + ?Sized>(ctx: &CheckContext, rng: &mut R) -> Result<Code, GenerateError> {
    let mut codes = generate_distinct(ctx, 1, rng)?;
    Ok(codes.remove(0))
}

/// Generates `count` distinct codes allowed in `ctx`. Each is uniform over the
/// allowed codes not drawn before it.
pub fn generate_distinct<R: Rng + ?Sized>(
    ctx: &CheckContext,
    count: usize,
    rng: &mut R,
) -> Result<Vec<Code>, GenerateError> {
    Sampler::new(ctx, REJECTION_ATTEMPTS)?.draw(count, rng)
}

/// How many codes `ctx` allows at its target length (enumerates the space).
pub fn count_available(ctx: &CheckContext) -> Result<u64, GenerateError> {
    let sampler = Sampler::new(ctx, 0)?;
    Ok(sampler.enumerate(&HashSet::new()).len() as u64)
}

/// The sampling state for one call.
pub(crate) struct Sampler {
    ctx: CheckContext,
    len: usize,
    space: u64,
    attempts: u32,
}

impl Sampler {
    pub(crate) fn new(ctx: &CheckContext, attempts: u32) -> Result<Self, GenerateError> {
        let len = ctx.target_length();
        if !ctx.community.allowed_lengths(ctx.kind).contains(&len) {
            let violations = vec![ctx.length_violation()];
            return Err(Rejection { violations }.into());
        }
        let mut ctx = ctx.clone();
        ctx.origin = Origin::Generated;
        ctx.length = Some(len);
        Ok(Self {
            ctx,
            len,
            space: 10u64.pow(len as u32),
            attempts,
        })
    }

    pub(crate) fn draw<R: Rng + ?Sized>(
        &self,
        count: usize,
        rng: &mut R,
    ) -> Result<Vec<Code>, GenerateError> {
        let mut taken = HashSet::with_capacity(count);
        let mut out = Vec::with_capacity(count);
        while out.len() < count {
            match self.by_rejection(&taken, rng) {
                Some(code) => {
                    taken.insert(code);
                    out.push(code);
                }
                None => {
                    // Too few codes are left for rejection to find them quickly:
                    // enumerate once and draw the rest without replacement.
                    let mut left = self.enumerate(&taken);
                    let missing = count - out.len();
                    if left.len() < missing {
                        return Err(GenerateError::Exhausted {
                            available: (out.len() + left.len()) as u64,
                            requested: count,
                        });
                    }
                    for _ in 0..missing {
                        let pick = rng.random_range(0..left.len());
                        out.push(left.swap_remove(pick));
                    }
                }
            }
        }
        Ok(out)
    }

    fn by_rejection<R: Rng + ?Sized>(&self, taken: &HashSet<Code>, rng: &mut R) -> Option<Code> {
        (0..self.attempts).find_map(|_| {
            let code = self.code_at(rng.random_range(0..self.space));
            (!taken.contains(&code) && self.ctx.is_allowed(&code)).then_some(code)
        })
    }

    /// Every allowed code not in `taken`, in ascending order.
    fn enumerate(&self, taken: &HashSet<Code>) -> Vec<Code> {
        (0..self.space)
            .map(|index| self.code_at(index))
            .filter(|code| !taken.contains(code) && self.ctx.is_allowed(code))
            .collect()
    }

    fn code_at(&self, index: u64) -> Code {
        Code::from_index(index, self.len)
            .expect("allowed lengths are 4..=8 and every index is below 10^len")
    }
}

#[cfg(test)]
mod tests;

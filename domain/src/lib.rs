//! The pure model of Roster: ids, value types (`Email`, `PersonName`, roles),
//! commands, events, and the organization and user aggregates with their
//! `decide` and `evolve` functions. No I/O, no clock, no randomness: time, ids and
//! token material are passed in, so every rule is testable as
//! Given events / When command / Then events.

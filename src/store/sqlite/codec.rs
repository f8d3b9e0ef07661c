//! How typed state is stored: enums as their text, read back strictly. A value the store does
//! not know (written by a newer feedwatch, or damaged) is an error naming it, never a default.

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};

use crate::model::{PollStatus, SourceType};
use crate::store::DeliveryState;

/// An error for a text column holding a value its type does not know.
fn unknown(what: &str, value: &str) -> FromSqlError {
    FromSqlError::Other(format!("unknown {what} \"{value}\" in the store").into())
}

impl ToSql for SourceType {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for SourceType {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = value.as_str()?;
        SourceType::parse(s).ok_or_else(|| unknown("source kind", s))
    }
}

impl ToSql for PollStatus {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.text()))
    }
}

impl FromSql for PollStatus {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = value.as_str()?;
        PollStatus::parse(s).ok_or_else(|| unknown("poll status", s))
    }
}

impl ToSql for DeliveryState {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

impl FromSql for DeliveryState {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        let s = value.as_str()?;
        DeliveryState::parse(s).ok_or_else(|| unknown("delivery state", s))
    }
}

#[cfg(test)]
mod tests {
    use rusqlite::Connection;

    use super::*;

    fn read<T: FromSql>(text: &str) -> rusqlite::Result<T> {
        let conn = Connection::open_in_memory().unwrap();
        conn.query_row("SELECT ?1", [text], |r| r.get(0))
    }

    #[test]
    fn round_trips_and_refuses_unknown_values() {
        let conn = Connection::open_in_memory().unwrap();
        let back: (SourceType, PollStatus, DeliveryState) = conn
            .query_row(
                "SELECT ?1, ?2, ?3",
                rusqlite::params![
                    SourceType::Page,
                    PollStatus::Ok("20 items".into()),
                    DeliveryState::Dead
                ],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .unwrap();
        assert_eq!(
            back,
            (
                SourceType::Page,
                PollStatus::Ok("20 items".into()),
                DeliveryState::Dead
            )
        );
        assert_eq!(
            read::<PollStatus>("not modified").unwrap(),
            PollStatus::NotModified
        );
        let err = read::<DeliveryState>("sent").unwrap_err().to_string();
        assert!(err.contains("unknown delivery state \"sent\""), "{err}");
        assert!(read::<SourceType>("podcast").is_err());
        assert!(read::<PollStatus>("fine").is_err());
    }
}

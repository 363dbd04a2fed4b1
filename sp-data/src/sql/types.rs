//! Column types that each driver encodes natively, so one statement and one row struct serve
//! both backends: SQLite keeps ids as TEXT and times as INTEGER microseconds, PostgreSQL as
//! UUID and TIMESTAMPTZ. JSON needs no wrapper: sqlx maps `serde_json::Value` and `Json<T>` to
//! TEXT and JSONB itself.

use std::str::FromStr;

use sp_core::{Id, Timestamp};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::sqlite::{SqliteArgumentsBuffer, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Encode, Sqlite, Type};

/// An id column: TEXT in SQLite, UUID in PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DbId(pub(crate) Id);

impl DbId {
    /// Past every id: the bound of a keyset page with no cursor yet (`id < $n` keeps the
    /// index range scan that `$n IS NULL OR …` would lose). UUIDv7 never generates it.
    pub(crate) const MAX: DbId = DbId(Id::from_uuid(sqlx::types::Uuid::max()));

    /// The bound of a keyset page that continues after `after`, or starts at the top.
    pub(crate) fn before(after: Option<Id>) -> DbId {
        after.map_or(DbId::MAX, DbId)
    }
}

/// A time column: INTEGER microseconds since the epoch in SQLite, TIMESTAMPTZ in PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct DbTime(pub(crate) Timestamp);

impl DbTime {
    /// The current time, as a bound parameter (the process clock on both backends).
    pub(crate) fn now() -> Self {
        DbTime(Timestamp::now())
    }
}

impl From<Id> for DbId {
    fn from(id: Id) -> Self {
        DbId(id)
    }
}

impl From<Timestamp> for DbTime {
    fn from(at: Timestamp) -> Self {
        DbTime(at)
    }
}

impl Type<Sqlite> for DbId {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <String as Type<Sqlite>>::compatible(ty)
    }
}

impl Encode<'_, Sqlite> for DbId {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        Encode::<Sqlite>::encode(self.0.to_string(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for DbId {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        Ok(DbId(Id::from_str(text)?))
    }
}

impl Type<Sqlite> for DbTime {
    fn type_info() -> SqliteTypeInfo {
        <i64 as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <i64 as Type<Sqlite>>::compatible(ty)
    }
}

impl Encode<'_, Sqlite> for DbTime {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        Encode::<Sqlite>::encode(self.0.unix_micros(), buf)
    }
}

impl<'r> Decode<'r, Sqlite> for DbTime {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        let micros = <i64 as Decode<Sqlite>>::decode(value)?;
        Timestamp::from_unix_micros(micros)
            .map(DbTime)
            .ok_or_else(|| format!("stored time {micros} µs is out of range").into())
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    use sp_core::{Id, Timestamp};
    use sqlx::encode::IsNull;
    use sqlx::error::BoxDynError;
    use sqlx::postgres::{PgArgumentBuffer, PgHasArrayType, PgTypeInfo, PgValueRef};
    use sqlx::types::Uuid;
    use sqlx::types::chrono::{DateTime, Utc};
    use sqlx::{Decode, Encode, Postgres, Type};

    use super::{DbId, DbTime};

    impl Type<Postgres> for DbId {
        fn type_info() -> PgTypeInfo {
            <Uuid as Type<Postgres>>::type_info()
        }
    }

    impl PgHasArrayType for DbId {
        fn array_type_info() -> PgTypeInfo {
            <Uuid as PgHasArrayType>::array_type_info()
        }
    }

    impl Encode<'_, Postgres> for DbId {
        fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
            Encode::<Postgres>::encode(self.0.as_uuid(), buf)
        }
    }

    impl<'r> Decode<'r, Postgres> for DbId {
        fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
            Ok(DbId(Id::from_uuid(<Uuid as Decode<Postgres>>::decode(
                value,
            )?)))
        }
    }

    impl Type<Postgres> for DbTime {
        fn type_info() -> PgTypeInfo {
            <DateTime<Utc> as Type<Postgres>>::type_info()
        }
    }

    impl Encode<'_, Postgres> for DbTime {
        fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
            Encode::<Postgres>::encode(self.0.as_datetime(), buf)
        }
    }

    impl<'r> Decode<'r, Postgres> for DbTime {
        fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
            let at = <DateTime<Utc> as Decode<Postgres>>::decode(value)?;
            Ok(DbTime(Timestamp::from_datetime(at)))
        }
    }
}

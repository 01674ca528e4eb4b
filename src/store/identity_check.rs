//! The [`Store`](super::Store) methods of the identity check at linking (issue 12): the
//! ESIA facts a session carries until its link form is posted, and the `flagged` mark of
//! a binding made although the names differed (`identity_check = "warn"`). Stamped into
//! each backend by `impl_store!` (see `shared_impl`).

pub(super) const SESSION_SET_PERSON: &str =
    "UPDATE sessions SET esia_person = $2 WHERE id_hash = $1";
pub(super) const SESSION_PERSON: &str = "SELECT esia_person FROM sessions WHERE id_hash = $1";
pub(super) const BINDING_FLAG: &str = "UPDATE bindings SET flagged = $2 WHERE diary_login = $1";
pub(super) const BINDING_FLAGGED: &str =
    "SELECT * FROM bindings WHERE flagged ORDER BY esia_oid, diary_login";

macro_rules! identity_methods {
    () => {
        fn set_session_person<'a>(
            &'a self,
            key: &'a SessionKey,
            person: Option<&'a str>,
        ) -> BoxFuture<'a, StoreResult<bool>> {
            Box::pin(async move {
                let r = sqlx::query(super::identity_check::SESSION_SET_PERSON)
                    .bind(&key.0[..])
                    .bind(person)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected() > 0)
            })
        }

        fn session_person<'a>(
            &'a self,
            key: &'a SessionKey,
        ) -> BoxFuture<'a, StoreResult<Option<String>>> {
            Box::pin(async move {
                let row: Option<(Option<String>,)> =
                    sqlx::query_as(super::identity_check::SESSION_PERSON)
                        .bind(&key.0[..])
                        .fetch_optional(&self.pool)
                        .await?;
                Ok(row.and_then(|(p,)| p))
            })
        }

        fn set_binding_flagged<'a>(
            &'a self,
            login: &'a str,
            flagged: bool,
        ) -> BoxFuture<'a, StoreResult<bool>> {
            Box::pin(async move {
                let r = sqlx::query(super::identity_check::BINDING_FLAG)
                    .bind(login)
                    .bind(flagged)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected() > 0)
            })
        }

        fn list_flagged_bindings(&self) -> BoxFuture<'_, StoreResult<Vec<Binding>>> {
            Box::pin(async move {
                let r: Vec<sql::BindingRow> =
                    sqlx::query_as(super::identity_check::BINDING_FLAGGED)
                        .fetch_all(&self.pool)
                        .await?;
                sql::rows(r, sql::BindingRow::into_record)
            })
        }
    };
}

pub(super) use identity_methods;

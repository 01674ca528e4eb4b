//! The [`Store`](super::Store) methods for bindings, vault entries, audit events and
//! rate-limit attempts; stamped into each backend by `impl_store!` (see `shared_impl`).

/// Bindings, vault entries, audit events, attempts.
macro_rules! record_methods {
    () => {
        fn create_binding<'a>(&'a self, b: &'a Binding) -> BoxFuture<'a, StoreResult<()>> {
            Box::pin(async move {
                let r = sqlx::query(sql::BINDING_INSERT)
                    .bind(b.esia_oid)
                    .bind(b.diary_login.as_str())
                    .bind(b.diary_role.as_deref())
                    .bind(b.account_level.as_deref())
                    .bind(sql::secs(b.created_at))
                    .bind(sql::secs(b.last_used_at))
                    .bind(b.stale)
                    .execute(&self.pool)
                    .await;
                match r {
                    Ok(_) => Ok(()),
                    // The only unique key left is the diary login.
                    Err(e) if sql::is_unique_violation(&e) => {
                        Err(StoreError::Conflict(Conflict::LoginTaken))
                    }
                    Err(e) => Err(e.into()),
                }
            })
        }

        fn bindings_of_oid(&self, oid: i64) -> BoxFuture<'_, StoreResult<Vec<Binding>>> {
            Box::pin(async move {
                let r: Vec<sql::BindingRow> = sqlx::query_as(sql::BINDINGS_OF_OID)
                    .bind(oid)
                    .fetch_all(&self.pool)
                    .await?;
                sql::rows(r, sql::BindingRow::into_record)
            })
        }

        fn binding_by_login<'a>(
            &'a self,
            login: &'a str,
        ) -> BoxFuture<'a, StoreResult<Option<Binding>>> {
            Box::pin(async move {
                let row: Option<sql::BindingRow> = sqlx::query_as(sql::BINDING_BY_LOGIN)
                    .bind(login)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(sql::BindingRow::into_record).transpose()
            })
        }

        fn record_binding_use<'a>(
            &'a self,
            login: &'a str,
            role: Option<&'a str>,
            level: Option<&'a str>,
            now: DateTime<Utc>,
        ) -> BoxFuture<'a, StoreResult<bool>> {
            Box::pin(async move {
                let r = sqlx::query(sql::BINDING_USE)
                    .bind(login)
                    .bind(role)
                    .bind(level)
                    .bind(sql::secs(now))
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected() > 0)
            })
        }

        fn set_binding_stale<'a>(
            &'a self,
            login: &'a str,
            stale: bool,
        ) -> BoxFuture<'a, StoreResult<bool>> {
            Box::pin(async move {
                let r = sqlx::query(sql::BINDING_STALE)
                    .bind(login)
                    .bind(stale)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected() > 0)
            })
        }

        fn unbind<'a>(&'a self, login: &'a str) -> BoxFuture<'a, StoreResult<Option<Binding>>> {
            Box::pin(async move {
                let row: Option<sql::BindingRow> = sqlx::query_as(sql::BINDING_DELETE)
                    .bind(login)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(sql::BindingRow::into_record).transpose()
            })
        }

        fn list_bindings(&self) -> BoxFuture<'_, StoreResult<Vec<Binding>>> {
            Box::pin(async move {
                let r: Vec<sql::BindingRow> = sqlx::query_as(sql::BINDING_LIST)
                    .fetch_all(&self.pool)
                    .await?;
                sql::rows(r, sql::BindingRow::into_record)
            })
        }

        fn put_vault_entry<'a>(&'a self, e: &'a VaultEntry) -> BoxFuture<'a, StoreResult<()>> {
            Box::pin(async move {
                sqlx::query(sql::VAULT_UPSERT)
                    .bind(e.diary_login.as_str())
                    .bind(e.key_id.as_str())
                    .bind(e.nonce.as_slice())
                    .bind(e.ciphertext.as_slice())
                    .bind(sql::secs(e.updated_at))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            })
        }

        fn get_vault_entry<'a>(
            &'a self,
            login: &'a str,
        ) -> BoxFuture<'a, StoreResult<Option<VaultEntry>>> {
            Box::pin(async move {
                let row: Option<sql::VaultRow> = sqlx::query_as(sql::VAULT_GET)
                    .bind(login)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(sql::VaultRow::into_record).transpose()
            })
        }

        fn replace_vault_entry<'a>(
            &'a self,
            expected_nonce: &'a [u8],
            e: &'a VaultEntry,
        ) -> BoxFuture<'a, StoreResult<bool>> {
            Box::pin(async move {
                let r = sqlx::query(sql::VAULT_CAS)
                    .bind(e.diary_login.as_str())
                    .bind(e.key_id.as_str())
                    .bind(e.nonce.as_slice())
                    .bind(e.ciphertext.as_slice())
                    .bind(sql::secs(e.updated_at))
                    .bind(expected_nonce)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected() > 0)
            })
        }

        fn delete_vault_entry<'a>(&'a self, login: &'a str) -> BoxFuture<'a, StoreResult<bool>> {
            Box::pin(async move {
                let r = sqlx::query(sql::VAULT_DELETE)
                    .bind(login)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected() > 0)
            })
        }

        fn list_vault_entries(&self) -> BoxFuture<'_, StoreResult<Vec<VaultEntry>>> {
            Box::pin(async move {
                let r: Vec<sql::VaultRow> = sqlx::query_as(sql::VAULT_LIST)
                    .fetch_all(&self.pool)
                    .await?;
                sql::rows(r, sql::VaultRow::into_record)
            })
        }

        fn append_audit<'a>(&'a self, e: &'a AuditEvent) -> BoxFuture<'a, StoreResult<i64>> {
            Box::pin(async move {
                let id: i64 = sqlx::query_scalar(sql::AUDIT_INSERT)
                    .bind(sql::secs(e.ts))
                    .bind(e.kind.as_str())
                    .bind(e.esia_oid)
                    .bind(e.diary_login.as_deref())
                    .bind(e.client_ip.as_deref())
                    .bind(e.detail.to_string())
                    .fetch_one(&self.pool)
                    .await?;
                Ok(id)
            })
        }

        fn list_audit(
            &self,
            since: DateTime<Utc>,
            limit: u32,
        ) -> BoxFuture<'_, StoreResult<Vec<AuditEvent>>> {
            Box::pin(async move {
                let r: Vec<sql::AuditRow> = sqlx::query_as(sql::AUDIT_LIST)
                    .bind(sql::secs(since))
                    .bind(i64::from(limit))
                    .fetch_all(&self.pool)
                    .await?;
                sql::rows(r, sql::AuditRow::into_record)
            })
        }

        fn record_attempt<'a>(
            &'a self,
            key: &'a str,
            now: DateTime<Utc>,
        ) -> BoxFuture<'a, StoreResult<()>> {
            Box::pin(async move {
                sqlx::query(sql::ATTEMPT_INSERT)
                    .bind(key)
                    .bind(sql::secs(now))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            })
        }

        fn count_attempts<'a>(
            &'a self,
            key: &'a str,
            since: DateTime<Utc>,
        ) -> BoxFuture<'a, StoreResult<u64>> {
            Box::pin(async move {
                let n: i64 = sqlx::query_scalar(sql::ATTEMPT_COUNT)
                    .bind(key)
                    .bind(sql::secs(since))
                    .fetch_one(&self.pool)
                    .await?;
                Ok(u64::try_from(n).unwrap_or(0))
            })
        }

        fn prune_attempts(&self, before: DateTime<Utc>) -> BoxFuture<'_, StoreResult<u64>> {
            Box::pin(async move {
                let r = sqlx::query(sql::ATTEMPT_PRUNE)
                    .bind(sql::secs(before))
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected())
            })
        }
    };
}

pub(super) use record_methods;

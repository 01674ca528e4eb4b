//! The [`Store`](super::Store) methods behind the operator's commands; stamped into
//! each backend by `impl_store!` (see `shared_impl`). Multi-statement operations run
//! in one transaction: an unbind or an import is all there or not at all.

macro_rules! ops_methods {
    () => {
        fn unbind_user<'a>(
            &'a self,
            login: &'a str,
            audit: &'a AuditEvent,
        ) -> BoxFuture<'a, StoreResult<Option<crate::store::Unbound>>> {
            Box::pin(async move {
                let mut tx = self.pool.begin().await?;
                let row: Option<sql::BindingRow> =
                    sqlx::query_as(crate::store::ops_records::BINDING_DELETE_LOGIN)
                        .bind(login)
                        .fetch_optional(&mut *tx)
                        .await?;
                let Some(binding) = row.map(sql::BindingRow::into_record).transpose()? else {
                    return Ok(None);
                };
                let vault = sqlx::query(crate::store::ops_records::VAULT_DELETE_LOGIN)
                    .bind(binding.diary_login.as_str())
                    .execute(&mut *tx)
                    .await?;
                let sessions = sqlx::query(crate::store::ops_records::SESSIONS_DELETE_USER)
                    .bind(binding.diary_login.as_str())
                    .bind(binding.esia_oid)
                    .execute(&mut *tx)
                    .await?;
                let mut event = audit.clone();
                if let serde_json::Value::Object(detail) = &mut event.detail {
                    detail.insert("sessions_ended".into(), sessions.rows_affected().into());
                }
                sqlx::query(sql::AUDIT_INSERT)
                    .bind(sql::secs(event.ts))
                    .bind(event.kind.as_str())
                    .bind(event.esia_oid)
                    .bind(event.diary_login.as_deref())
                    .bind(event.client_ip.as_deref())
                    .bind(event.detail.to_string())
                    .fetch_one(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(Some(crate::store::Unbound {
                    binding,
                    vault_entry_removed: vault.rows_affected() > 0,
                    sessions_ended: sessions.rows_affected(),
                }))
            })
        }

        fn import_bindings<'a>(&'a self, all: &'a [Binding]) -> BoxFuture<'a, StoreResult<()>> {
            Box::pin(async move {
                let mut tx = self.pool.begin().await?;
                for b in all {
                    let r = sqlx::query(crate::store::ops_records::BINDING_IMPORT)
                        .bind(b.esia_oid)
                        .bind(b.diary_login.as_str())
                        .bind(b.diary_role.as_deref())
                        .bind(b.account_level.as_deref())
                        .bind(sql::secs(b.created_at))
                        .bind(sql::secs(b.last_used_at))
                        .bind(b.stale)
                        .execute(&mut *tx)
                        .await;
                    match r {
                        Ok(_) => {}
                        // Dropping `tx` rolls everything back.
                        Err(e) if sql::is_unique_violation(&e) => {
                            return Err(StoreError::Conflict(Conflict::LoginTaken));
                        }
                        Err(e) => return Err(e.into()),
                    }
                }
                tx.commit().await?;
                Ok(())
            })
        }

        fn query_audit<'a>(
            &'a self,
            q: &'a crate::store::AuditQuery,
        ) -> BoxFuture<'a, StoreResult<Vec<crate::store::AuditRecord>>> {
            Box::pin(async move {
                let rows: Vec<crate::store::ops_records::AuditIdRow> =
                    sqlx::query_as(crate::store::ops_records::AUDIT_QUERY)
                        .bind(q.diary_login.as_deref())
                        .bind(q.esia_oid)
                        .bind(q.kind.as_deref())
                        .bind(q.since.map(sql::secs))
                        .bind(q.until.map(sql::secs))
                        .bind(q.after_id.unwrap_or(0))
                        .bind(i64::from(q.limit))
                        .fetch_all(&self.pool)
                        .await?;
                sql::rows(rows, |r| {
                    Ok(crate::store::AuditRecord {
                        id: r.id,
                        event: r.row.into_record()?,
                    })
                })
            })
        }

        fn purge_audit(&self, before: DateTime<Utc>) -> BoxFuture<'_, StoreResult<u64>> {
            Box::pin(async move {
                let r = sqlx::query(crate::store::ops_records::AUDIT_PURGE)
                    .bind(sql::secs(before))
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected())
            })
        }

        fn session_jars_after<'a>(
            &'a self,
            after: Option<&'a SessionKey>,
            limit: u32,
        ) -> BoxFuture<'a, StoreResult<Vec<crate::store::SessionJar>>> {
            Box::pin(async move {
                let rows: Vec<crate::store::ops_records::JarRow> =
                    sqlx::query_as(crate::store::ops_records::JARS_PAGE)
                        .bind(after.map_or(&[][..], |k| &k.0[..]))
                        .bind(i64::from(limit))
                        .fetch_all(&self.pool)
                        .await?;
                sql::rows(rows, |r| {
                    let key: [u8; 32] = r
                        .id_hash
                        .try_into()
                        .map_err(|_| StoreError::Corrupt("session id is not 32 bytes".into()))?;
                    Ok(crate::store::SessionJar {
                        key: SessionKey(key),
                        sealed: r.diary_cookies,
                    })
                })
            })
        }

        fn replace_session_jar<'a>(
            &'a self,
            key: &'a SessionKey,
            expected: &'a [u8],
            sealed: &'a [u8],
        ) -> BoxFuture<'a, StoreResult<bool>> {
            Box::pin(async move {
                let r = sqlx::query(crate::store::ops_records::JAR_CAS)
                    .bind(&key.0[..])
                    .bind(sealed)
                    .bind(expected)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected() > 0)
            })
        }
    };
}

pub(super) use ops_methods;

//! One implementation of [`Store`](super::Store) for any backend whose struct has a
//! `pool: sqlx::Pool<_>` field. A macro rather than generics: sqlx's generic executor
//! bounds do not combine with boxed `Send` futures, and the SQL is identical anyway.
//! Backend-only methods (PostgreSQL's notification feed) follow a `;`.

macro_rules! impl_store {
    ($store:ty $(; $($extra:tt)*)?) => {
        impl $crate::store::Store for $store {
            $($($extra)*)?

            super::shared_impl::session_methods!();
            super::shared_records::record_methods!();
            super::identity_check::identity_methods!();
            super::shared_ops::ops_methods!();
            super::route_hits::route_hit_methods!();
        }
    };
}

/// Sessions and login flows.
macro_rules! session_methods {
    () => {
        fn create_session<'a>(&'a self, s: &'a SessionRecord) -> BoxFuture<'a, StoreResult<()>> {
            Box::pin(async move {
                sqlx::query(sql::SESSION_COLUMNS_INSERT)
                    .bind(&s.key.0[..])
                    .bind(s.auth_method.as_str())
                    .bind(sql::secs(s.authenticated_at))
                    .bind(sql::secs(s.created_at))
                    .bind(sql::secs(s.last_seen_at))
                    .bind(s.idle_timeout.num_seconds())
                    .bind(sql::secs(s.absolute_expiry))
                    .bind(s.public_computer)
                    .bind(s.esia_oid)
                    .bind(s.account_level.as_deref())
                    .bind(s.diary_login.as_deref())
                    .bind(s.diary_role.as_deref())
                    .bind(s.csrf_token.as_str())
                    .bind(s.diary_cookies.as_deref())
                    .bind(s.esia_id_token_hint.as_deref())
                    .bind(i64::from(s.diary_accounts))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            })
        }

        fn get_session<'a>(
            &'a self,
            key: &'a SessionKey,
        ) -> BoxFuture<'a, StoreResult<Option<SessionRecord>>> {
            Box::pin(async move {
                let row: Option<sql::SessionRow> = sqlx::query_as(sql::SESSION_SELECT)
                    .bind(&key.0[..])
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(sql::SessionRow::into_record).transpose()
            })
        }

        fn touch_session<'a>(
            &'a self,
            key: &'a SessionKey,
            now: DateTime<Utc>,
        ) -> BoxFuture<'a, StoreResult<bool>> {
            Box::pin(async move {
                let r = sqlx::query(sql::SESSION_TOUCH)
                    .bind(&key.0[..])
                    .bind(sql::secs(now))
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected() > 0)
            })
        }

        fn update_session<'a>(&'a self, s: &'a SessionRecord) -> BoxFuture<'a, StoreResult<bool>> {
            Box::pin(async move {
                let r = sqlx::query(sql::SESSION_UPDATE)
                    .bind(&s.key.0[..])
                    .bind(s.auth_method.as_str())
                    .bind(sql::secs(s.authenticated_at))
                    .bind(sql::secs(s.last_seen_at))
                    .bind(s.idle_timeout.num_seconds())
                    .bind(sql::secs(s.absolute_expiry))
                    .bind(s.public_computer)
                    .bind(s.esia_oid)
                    .bind(s.account_level.as_deref())
                    .bind(s.diary_login.as_deref())
                    .bind(s.diary_role.as_deref())
                    .bind(s.csrf_token.as_str())
                    .bind(s.diary_cookies.as_deref())
                    .bind(s.esia_id_token_hint.as_deref())
                    .bind(i64::from(s.diary_accounts))
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected() > 0)
            })
        }

        fn set_diary_cookies<'a>(
            &'a self,
            key: &'a SessionKey,
            jar: Option<&'a [u8]>,
        ) -> BoxFuture<'a, StoreResult<bool>> {
            Box::pin(async move {
                let r = sqlx::query(sql::SESSION_SET_JAR)
                    .bind(&key.0[..])
                    .bind(jar)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected() > 0)
            })
        }

        fn delete_session<'a>(&'a self, key: &'a SessionKey) -> BoxFuture<'a, StoreResult<bool>> {
            Box::pin(async move {
                let r = sqlx::query(sql::SESSION_DELETE)
                    .bind(&key.0[..])
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected() > 0)
            })
        }

        fn delete_sessions_of_login<'a>(
            &'a self,
            login: &'a str,
        ) -> BoxFuture<'a, StoreResult<u64>> {
            Box::pin(async move {
                let r = sqlx::query(sql::SESSION_DELETE_LOGIN)
                    .bind(login)
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected())
            })
        }

        fn delete_expired_sessions(&self, now: DateTime<Utc>) -> BoxFuture<'_, StoreResult<u64>> {
            Box::pin(async move {
                let r = sqlx::query(sql::SESSION_DELETE_EXPIRED)
                    .bind(sql::secs(now))
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected())
            })
        }

        fn create_login_flow<'a>(&'a self, f: &'a LoginFlow) -> BoxFuture<'a, StoreResult<()>> {
            Box::pin(async move {
                sqlx::query(sql::FLOW_INSERT)
                    .bind(f.state.to_string())
                    .bind(&f.cookie_binding[..])
                    .bind(f.nonce.as_str())
                    .bind(f.purpose.as_str())
                    .bind(f.return_path.as_str())
                    .bind(f.public_computer)
                    .bind(f.legacy_session.as_ref().map(|k| &k.0[..]))
                    .bind(sql::secs(f.created_at))
                    .bind(sql::secs(f.expires_at))
                    .execute(&self.pool)
                    .await?;
                Ok(())
            })
        }

        fn take_login_flow(
            &self,
            state: Uuid,
            cookie_binding: [u8; 32],
            now: DateTime<Utc>,
        ) -> BoxFuture<'_, StoreResult<Option<LoginFlow>>> {
            Box::pin(async move {
                let row: Option<sql::FlowRow> = sqlx::query_as(sql::FLOW_TAKE)
                    .bind(state.to_string())
                    .bind(&cookie_binding[..])
                    .fetch_optional(&self.pool)
                    .await?;
                let flow = row.map(sql::FlowRow::into_record).transpose()?;
                Ok(flow.filter(|f| now < f.expires_at))
            })
        }

        fn delete_expired_flows(&self, now: DateTime<Utc>) -> BoxFuture<'_, StoreResult<u64>> {
            Box::pin(async move {
                let r = sqlx::query(sql::FLOW_DELETE_EXPIRED)
                    .bind(sql::secs(now))
                    .execute(&self.pool)
                    .await?;
                Ok(r.rows_affected())
            })
        }
    };
}

pub(super) use {impl_store, session_methods};

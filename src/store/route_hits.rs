//! The [`Store`](super::Store) methods of route discovery (issue 13): the gateway adds
//! its in-memory counts of uncovered routes every minute, `report routes` reads them.
//! Stamped into each backend by `impl_store!` (see `shared_impl`).

/// Adds to a route's count (both backends have `ON CONFLICT … DO UPDATE`).
pub(super) const ROUTE_HITS_ADD: &str = "INSERT INTO route_hits (route, hits, first_seen, last_seen) \
     VALUES ($1, $2, $3, $3) \
     ON CONFLICT (route) DO UPDATE SET hits = route_hits.hits + excluded.hits, \
     last_seen = excluded.last_seen";
pub(super) const ROUTE_HITS_LIST: &str =
    "SELECT route, hits, first_seen, last_seen FROM route_hits ORDER BY hits DESC, route";
/// How many distinct routes the table keeps; past it new routes are not added (a diary
/// with a number in every path would otherwise grow it without end).
pub const MAX_ROUTES: i64 = 20_000;
pub(super) const ROUTE_HITS_COUNT: &str = "SELECT COUNT(*) FROM route_hits";

macro_rules! route_hit_methods {
    () => {
        fn add_route_hits<'a>(
            &'a self,
            hits: &'a [(String, u64)],
            now: DateTime<Utc>,
        ) -> BoxFuture<'a, StoreResult<u64>> {
            Box::pin(async move {
                let mut tx = self.pool.begin().await?;
                let (mut known,): (i64,) = sqlx::query_as(super::route_hits::ROUTE_HITS_COUNT)
                    .fetch_one(&mut *tx)
                    .await?;
                let mut added = 0u64;
                for (route, n) in hits {
                    let n = i64::try_from(*n).unwrap_or(i64::MAX);
                    let r = if known < super::route_hits::MAX_ROUTES {
                        sqlx::query(super::route_hits::ROUTE_HITS_ADD)
                            .bind(route)
                            .bind(n)
                            .bind(sql::secs(now))
                            .execute(&mut *tx)
                            .await?
                    } else {
                        // Full: only routes already counted grow.
                        sqlx::query(
                            "UPDATE route_hits SET hits = hits + $2, last_seen = $3 WHERE route = $1",
                        )
                        .bind(route)
                        .bind(n)
                        .bind(sql::secs(now))
                        .execute(&mut *tx)
                        .await?
                    };
                    if r.rows_affected() > 0 {
                        added += 1;
                        known += 1;
                    }
                }
                tx.commit().await?;
                Ok(added)
            })
        }

        fn list_route_hits(&self) -> BoxFuture<'_, StoreResult<Vec<crate::store::RouteHit>>> {
            Box::pin(async move {
                let rows: Vec<(String, i64, i64, i64)> =
                    sqlx::query_as(super::route_hits::ROUTE_HITS_LIST)
                        .fetch_all(&self.pool)
                        .await?;
                rows.into_iter()
                    .map(|(route, hits, first, last)| {
                        Ok(crate::store::RouteHit {
                            route,
                            hits: u64::try_from(hits).unwrap_or(0),
                            first_seen: sql::time_of(first, "route_hits.first_seen")?,
                            last_seen: sql::time_of(last, "route_hits.last_seen")?,
                        })
                    })
                    .collect()
            })
        }
    };
}

pub(super) use route_hit_methods;

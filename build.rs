fn main() {
    // New migration files must trigger a rebuild: sqlx::migrate! embeds them.
    println!("cargo:rerun-if-changed=migrations");
}

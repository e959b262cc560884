use sea_orm_migration::prelude::*;

#[derive(DeriveIden)]
pub enum Learners {
    Table,
    Id,
}

/// A `learner_id` foreign key that erases the row with its learner.
pub fn learner_fk(table: impl IntoTableRef + 'static) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from_tbl(table)
        .from_col(Alias::new("learner_id"))
        .to_tbl(Learners::Table)
        .to_col(Learners::Id)
        .on_delete(ForeignKeyAction::Cascade)
        .to_owned()
}

/// A (non-unique or unique) index named after its table and columns.
pub fn index(table: impl IntoTableRef + 'static, name: &str, cols: &[&str], unique: bool) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for col in cols {
        stmt.col(Alias::new(*col));
    }
    if unique {
        stmt.unique();
    }
    stmt.to_owned()
}

/// `(learner_id, col) -> parent (learner_id, id)`.
pub fn same_learner(
    table: impl IntoIden,
    col: impl IntoIden,
    parent: impl IntoIden,
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from_tbl(table)
        .from_col(Alias::new("learner_id"))
        .from_col(col)
        .to_tbl(parent)
        .to_col(Alias::new("learner_id"))
        .to_col(Alias::new("id"))
        .on_delete(on_delete)
        .to_owned()
}

"""market gift certificates: store credit with a scope (a village) and an expiry

Revision ID: c3f1a9d2e7b4
Revises: c4d17a2e9b50
Create Date: 2026-12-04 21:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c3f1a9d2e7b4'
down_revision = 'c4d17a2e9b50'
branch_labels = None
depends_on = None

OLD_KINDS = "kind IN ('reward', 'reward_reversal', 'spend', 'spend_refund', 'grant')"
NEW_KINDS = "kind IN ('reward', 'reward_reversal', 'spend', 'spend_refund', 'grant', 'expiry')"


def upgrade():
    op.create_table('credit_certificates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('village_id', sa.Integer(), nullable=False),
    sa.Column('remaining', sa.Integer(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('expired_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('remaining >= 0', name=op.f('ck_credit_certificates_remaining')),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_credit_certificates_user_id_users'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['village_id'], ['villages.id'], name=op.f('fk_credit_certificates_village_id_villages'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_credit_certificates'))
    )
    with op.batch_alter_table('credit_certificates', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_credit_certificates_expires_at'), ['expires_at'], unique=False)
        batch_op.create_index('ix_credit_certificates_user_scope', ['user_id', 'village_id', 'expires_at'], unique=False)

    # SQLite rebuilds credit_entries here (a new foreign key and a changed CHECK); nothing refers to it.
    with op.batch_alter_table('credit_entries', schema=None) as batch_op:
        batch_op.add_column(sa.Column('certificate_id', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_credit_entries_certificate_id'), ['certificate_id'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_credit_entries_certificate_id_credit_certificates'), 'credit_certificates', ['certificate_id'], ['id'], ondelete='CASCADE')
        batch_op.drop_constraint(batch_op.f('ck_credit_entries_kind'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_credit_entries_kind'), NEW_KINDS)


def downgrade():
    with op.batch_alter_table('credit_entries', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('ck_credit_entries_kind'), type_='check')
        batch_op.create_check_constraint(batch_op.f('ck_credit_entries_kind'), OLD_KINDS)
        batch_op.drop_constraint(batch_op.f('fk_credit_entries_certificate_id_credit_certificates'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_credit_entries_certificate_id'))
        batch_op.drop_column('certificate_id')

    with op.batch_alter_table('credit_certificates', schema=None) as batch_op:
        batch_op.drop_index('ix_credit_certificates_user_scope')
        batch_op.drop_index(batch_op.f('ix_credit_certificates_expires_at'))

    op.drop_table('credit_certificates')

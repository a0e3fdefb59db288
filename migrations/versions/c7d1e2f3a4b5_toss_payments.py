"""Toss Payments: a third provider, Toss's payment key on payments and transaction key on refunds

Revision ID: c7d1e2f3a4b5
Revises: 8a369f381025
Create Date: 2026-12-04 21:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c7d1e2f3a4b5'
down_revision = '8a369f381025'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.add_column(sa.Column('toss_payment_key', sa.String(length=200), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_payments_toss_payment_key'), ['toss_payment_key'])
        batch_op.drop_constraint(op.f('ck_payments_provider'), type_='check')
        batch_op.create_check_constraint(
            op.f('ck_payments_provider'), "provider IN ('pickup', 'stripe', 'toss', 'credit')"
        )

    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.add_column(sa.Column('toss_transaction_key', sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f('uq_refunds_toss_transaction_key'), ['toss_transaction_key'])


def downgrade():
    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_refunds_toss_transaction_key'), type_='unique')
        batch_op.drop_column('toss_transaction_key')

    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_payments_provider'), type_='check')
        batch_op.create_check_constraint(op.f('ck_payments_provider'), "provider IN ('pickup', 'stripe', 'credit')")
        batch_op.drop_constraint(batch_op.f('uq_payments_toss_payment_key'), type_='unique')
        batch_op.drop_column('toss_payment_key')

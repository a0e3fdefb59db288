"""Toss Payments: a third provider, Toss's payment key on payments and transaction key on refunds,
Toss customer keys, group-buy pledges by Toss billing key

Revision ID: c7d1e2f3a4b5
Revises: a20bbe945fdc
Create Date: 2026-12-04 21:30:00

"""
import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision = 'c7d1e2f3a4b5'
down_revision = 'a20bbe945fdc'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('toss_customers',
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('customer_key', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_toss_customers_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('user_id', name=op.f('pk_toss_customers')),
    sa.UniqueConstraint('customer_key', name=op.f('uq_toss_customers_customer_key'))
    )
    with op.batch_alter_table('pledges', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_pledges_payment_method'), type_='check')
        batch_op.create_check_constraint(op.f('ck_pledges_payment_method'), "payment_method IN ('pickup', 'stripe', 'toss')")

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
    with op.batch_alter_table('pledges', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_pledges_payment_method'), type_='check')
        batch_op.create_check_constraint(op.f('ck_pledges_payment_method'), "payment_method IN ('pickup', 'stripe')")
    op.drop_table('toss_customers')

    with op.batch_alter_table('refunds', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('uq_refunds_toss_transaction_key'), type_='unique')
        batch_op.drop_column('toss_transaction_key')

    with op.batch_alter_table('payments', schema=None) as batch_op:
        batch_op.drop_constraint(op.f('ck_payments_provider'), type_='check')
        batch_op.create_check_constraint(op.f('ck_payments_provider'), "provider IN ('pickup', 'stripe', 'credit')")
        batch_op.drop_constraint(batch_op.f('uq_payments_toss_payment_key'), type_='unique')
        batch_op.drop_column('toss_payment_key')

"""phone-grade shop: a buyer's phone number on the account

Revision ID: c13a4f0e2b71
Revises: c4d1e2f3a516
Create Date: 2026-12-04 21:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c13a4f0e2b71'
down_revision = 'c4d1e2f3a516'
branch_labels = None
depends_on = None


def upgrade():
    # A plain nullable column, added in place (no table rebuild on SQLite).
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('phone', sa.String(length=13), nullable=True))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('phone')

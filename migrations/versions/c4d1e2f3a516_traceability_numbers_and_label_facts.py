"""traceability numbers and label facts

Revision ID: c4d1e2f3a516
Revises: 8a369f381025
Create Date: 2026-12-04 21:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4d1e2f3a516'
down_revision = '8a369f381025'
branch_labels = None
depends_on = None

# Plain columns with a server default of '', added in place (no table rebuild on SQLite).


def upgrade():
    with op.batch_alter_table('subjects', schema=None) as batch_op:
        batch_op.add_column(sa.Column('trace_number', sa.String(length=12), server_default='', nullable=False))
        batch_op.create_index(batch_op.f('ix_subjects_trace_number'), ['trace_number'], unique=False)

    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.add_column(sa.Column('trace_number', sa.String(length=15), server_default='', nullable=False))
        batch_op.add_column(sa.Column('grade', sa.String(length=20), server_default='', nullable=False))
        batch_op.add_column(sa.Column('origin', sa.String(length=80), server_default='', nullable=False))
        batch_op.add_column(sa.Column('storage', sa.String(length=120), server_default='', nullable=False))
        batch_op.add_column(sa.Column('ingredients', sa.String(length=300), server_default='', nullable=False))
        batch_op.add_column(sa.Column('packed_on', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('use_by', sa.Date(), nullable=True))
        batch_op.add_column(sa.Column('weight_grams', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_products_trace_number'), ['trace_number'], unique=False)


def downgrade():
    with op.batch_alter_table('products', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_products_trace_number'))
        batch_op.drop_column('weight_grams')
        batch_op.drop_column('use_by')
        batch_op.drop_column('packed_on')
        batch_op.drop_column('ingredients')
        batch_op.drop_column('storage')
        batch_op.drop_column('origin')
        batch_op.drop_column('grade')
        batch_op.drop_column('trace_number')

    with op.batch_alter_table('subjects', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_subjects_trace_number'))
        batch_op.drop_column('trace_number')

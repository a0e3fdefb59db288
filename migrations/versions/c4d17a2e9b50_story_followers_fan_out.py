"""story followers fan-out: cursor and done time on story posts

Revision ID: c4d17a2e9b50
Revises: c7d1e2f3a4b5
Create Date: 2026-12-04 21:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'c4d17a2e9b50'
down_revision = 'c7d1e2f3a4b5'
branch_labels = None
depends_on = None

# Plain nullable columns, added in place. Posts written before this migration count as told, so the
# first tick after upgrading does not email every follower about old stories.


def upgrade():
    with op.batch_alter_table('story_posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('followers_notified_through', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('followers_notified_at', sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE story_posts SET followers_notified_at = created_at")


def downgrade():
    with op.batch_alter_table('story_posts', schema=None) as batch_op:
        batch_op.drop_column('followers_notified_at')
        batch_op.drop_column('followers_notified_through')

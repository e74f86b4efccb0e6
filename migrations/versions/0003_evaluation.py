"""evaluation: question sets, registered models, evaluations, their answers and the judge's verdicts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 12:48:40.938731

``model_endpoints.training_run_id`` and ``export_id`` are plain integers, without foreign keys: they name
the training run and the export snapshot behind a model.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import app.db


revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('model_endpoints',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('answered_by', sa.String(length=16), nullable=False),
    sa.Column('base_url', sa.String(length=500), nullable=True),
    sa.Column('model', sa.String(length=200), nullable=False),
    sa.Column('api_key_env', sa.String(length=100), nullable=True),
    sa.Column('system_prompt', sa.Text(), nullable=True),
    sa.Column('temperature', sa.Float(), nullable=False),
    sa.Column('max_tokens', sa.Integer(), nullable=False),
    sa.Column('requests_per_minute', sa.Integer(), nullable=True),
    sa.Column('tokens_per_minute', sa.Integer(), nullable=True),
    sa.Column('price_input_per_mtok', sa.Float(), nullable=False),
    sa.Column('price_output_per_mtok', sa.Float(), nullable=False),
    sa.Column('training_run_id', sa.Integer(), nullable=True),
    sa.Column('export_id', sa.Integer(), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_model_endpoints')),
    sa.UniqueConstraint('name', name=op.f('uq_model_endpoints_name'))
    )
    op.create_table('question_sets',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('question_count', sa.Integer(), nullable=False),
    sa.Column('categories', sa.JSON(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_question_sets')),
    sa.UniqueConstraint('name', name=op.f('uq_question_sets_name'))
    )
    op.create_table('evaluations',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=True),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('status_reason', sa.Text(), nullable=True),
    sa.Column('question_set_id', sa.Integer(), nullable=False),
    sa.Column('candidate_id', sa.Integer(), nullable=False),
    sa.Column('baseline_id', sa.Integer(), nullable=False),
    sa.Column('judge_id', sa.Integer(), nullable=False),
    sa.Column('pairwise', sa.Boolean(), nullable=False),
    sa.Column('single', sa.Boolean(), nullable=False),
    sa.Column('reference_categories', sa.JSON(), nullable=False),
    sa.Column('judge_temperature', sa.Float(), nullable=False),
    sa.Column('judge_max_tokens', sa.Integer(), nullable=False),
    sa.Column('concurrency', sa.Integer(), nullable=False),
    sa.Column('bootstrap_samples', sa.Integer(), nullable=False),
    sa.Column('seed', sa.Integer(), nullable=False),
    sa.Column('answers_stored', sa.Integer(), nullable=False),
    sa.Column('answer_calls_failed', sa.Integer(), nullable=False),
    sa.Column('judge_calls', sa.Integer(), nullable=False),
    sa.Column('judge_calls_failed', sa.Integer(), nullable=False),
    sa.Column('judge_unparsable', sa.Integer(), nullable=False),
    sa.Column('prompt_tokens', sa.Integer(), nullable=False),
    sa.Column('completion_tokens', sa.Integer(), nullable=False),
    sa.Column('cost_usd', sa.Float(), nullable=False),
    sa.Column('active_seconds', sa.Float(), nullable=False),
    sa.Column('runner_id', sa.String(length=200), nullable=True),
    sa.Column('lease_expires_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.Column('started_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('finished_at', app.db.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['baseline_id'], ['model_endpoints.id'], name=op.f('fk_evaluations_baseline_id_model_endpoints')),
    sa.ForeignKeyConstraint(['candidate_id'], ['model_endpoints.id'], name=op.f('fk_evaluations_candidate_id_model_endpoints')),
    sa.ForeignKeyConstraint(['judge_id'], ['model_endpoints.id'], name=op.f('fk_evaluations_judge_id_model_endpoints')),
    sa.ForeignKeyConstraint(['question_set_id'], ['question_sets.id'], name=op.f('fk_evaluations_question_set_id_question_sets')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluations')),
    sa.UniqueConstraint('name', name=op.f('uq_evaluations_name'))
    )
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.create_index('ix_evaluations_status_lease', ['status', 'lease_expires_at'], unique=False)

    op.create_table('questions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('question_set_id', sa.Integer(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('category', sa.String(length=50), nullable=False),
    sa.Column('turns', sa.JSON(), nullable=False),
    sa.Column('reference', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['question_set_id'], ['question_sets.id'], name=op.f('fk_questions_question_set_id_question_sets'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_questions')),
    sa.UniqueConstraint('question_set_id', 'key', name=op.f('uq_questions_question_set_id'))
    )
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_questions_question_set_id'), ['question_set_id'], unique=False)

    op.create_table('evaluation_answers',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('evaluation_id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('model', sa.String(length=200), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('turns', sa.JSON(), nullable=False),
    sa.Column('finish_reason', sa.String(length=32), nullable=True),
    sa.Column('prompt_tokens', sa.Integer(), nullable=False),
    sa.Column('completion_tokens', sa.Integer(), nullable=False),
    sa.Column('cost_usd', sa.Float(), nullable=False),
    sa.Column('latency_ms', sa.Float(), nullable=True),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['evaluation_id'], ['evaluations.id'], name=op.f('fk_evaluation_answers_evaluation_id_evaluations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['question_id'], ['questions.id'], name=op.f('fk_evaluation_answers_question_id_questions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation_answers')),
    sa.UniqueConstraint('evaluation_id', 'role', 'question_id', name=op.f('uq_evaluation_answers_evaluation_id'))
    )
    op.create_table('evaluation_judgments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('evaluation_id', sa.Integer(), nullable=False),
    sa.Column('question_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('target', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('model', sa.String(length=200), nullable=False),
    sa.Column('messages', sa.JSON(), nullable=False),
    sa.Column('reference_used', sa.Boolean(), nullable=False),
    sa.Column('raw_reply', sa.Text(), nullable=True),
    sa.Column('verdict', sa.String(length=8), nullable=True),
    sa.Column('winner', sa.String(length=16), nullable=True),
    sa.Column('score', sa.Float(), nullable=True),
    sa.Column('explanation', sa.Text(), nullable=True),
    sa.Column('problem', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('finish_reason', sa.String(length=32), nullable=True),
    sa.Column('prompt_tokens', sa.Integer(), nullable=False),
    sa.Column('completion_tokens', sa.Integer(), nullable=False),
    sa.Column('cost_usd', sa.Float(), nullable=False),
    sa.Column('latency_ms', sa.Float(), nullable=True),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('created_at', app.db.UTCDateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['evaluation_id'], ['evaluations.id'], name=op.f('fk_evaluation_judgments_evaluation_id_evaluations'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['question_id'], ['questions.id'], name=op.f('fk_evaluation_judgments_question_id_questions'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_evaluation_judgments'))
    )
    with op.batch_alter_table('evaluation_judgments', schema=None) as batch_op:
        batch_op.create_index('ix_evaluation_judgments_evaluation_status', ['evaluation_id', 'status'], unique=False)
        batch_op.create_index('ix_evaluation_judgments_item', ['evaluation_id', 'question_id', 'kind', 'target'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('evaluation_judgments', schema=None) as batch_op:
        batch_op.drop_index('ix_evaluation_judgments_item')
        batch_op.drop_index('ix_evaluation_judgments_evaluation_status')

    op.drop_table('evaluation_judgments')
    op.drop_table('evaluation_answers')
    with op.batch_alter_table('questions', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_questions_question_set_id'))

    op.drop_table('questions')
    with op.batch_alter_table('evaluations', schema=None) as batch_op:
        batch_op.drop_index('ix_evaluations_status_lease')

    op.drop_table('evaluations')
    op.drop_table('question_sets')
    op.drop_table('model_endpoints')

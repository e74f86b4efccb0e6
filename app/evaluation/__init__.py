"""Evaluation: answers from any OpenAI-compatible model, judged pairwise and alone, and reported."""

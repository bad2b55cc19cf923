"""The authorization matrix: every route, every method, every role, against a written table.

- `routes.py` walks the URL configuration and lists every named route with the methods it serves;
- `world.py` builds two teams, one user per role and one of every governed object (through the
  apps' services, so the objects are real: stored files, scores, audit entries);
- `expectations.py` is the hand-written table: per URL name and method, the answer each role
  must get, the URL arguments and a minimal valid payload.

tests/test_authorization_matrix.py runs the table and fails for any route it does not cover.
"""

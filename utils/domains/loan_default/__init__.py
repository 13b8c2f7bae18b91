"""Loan default (the CS611 course data): the synthetic sample generator."""

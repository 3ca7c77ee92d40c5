"""Figures (`plots`) and the self-contained HTML run report (`html`)."""

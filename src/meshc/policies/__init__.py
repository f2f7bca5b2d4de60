"""Rego admission policies and the engines that evaluate them."""

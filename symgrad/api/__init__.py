"""The compiled face: `compile`, `grad`, `value_and_grad`, `vjp`, `jacobian`, `hessian`."""

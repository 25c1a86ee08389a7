// Gives every layer library at least one translation unit while a layer is being grown.

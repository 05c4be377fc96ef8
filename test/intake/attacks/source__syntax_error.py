# attack: source/syntax_error
# expect: parse-error
def inner_steps(model, data_iterator, optimizer, num_steps, device, num_gpus=1)
    return 1
